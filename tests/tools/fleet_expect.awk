# fleet_expect.awk: what cprof-query must answer for the profiles tests/query_fleet.sh loaded,
# computed from the ledger of what it loaded (never from cprof's output), as the TSV that
# `cprof-query top|diff|series --format tsv` prints. POSIX awk (mawk); run with LC_ALL=C.
#
# The ledger (the input): one loaded profile a line, TAB-separated:
#   EPOCH SERVICE ENV VERSION ZONE LABELS DURATION_S STACK=VALUE...
# LABELS is "-" or "k=v,k=v"; each STACK=VALUE is a fleet_profiles sample (frames root first,
# separated by ';'; the value is cpu/nanoseconds). A profile's bucket is its minute.
#
# A selection (-v sel=..., base=..., target=...) is comma-separated key=value: service, env,
# version, zone, label (k=v), from and to (unix seconds; the minutes [from, to)).
#
#   -v mode=top    -v sel=S [-v by=flat|cum] [-v group=service|env|version|zone] [-v n=N]
#   -v mode=diff   -v base=S -v target=S -v width=SECONDS [-v by=flat|cum] [-v n=N] [-v test_share=F]
#                  (functions below a mean share of test_share, default 0.005, are not tested)
#   -v mode=series -v sel=S -v step=SECONDS -v fns="NAME NAME..."
#   -v mode=norm   (reads diff TSV instead: p and q values below 1e-10 become "<1e-10", since
#                   how far into the tail they are computed is not the point)

function abs(x) { return x < 0 ? -x : x }

function parse_sel(side, s,    parts, k, i, eq) {
	k = split(s, parts, ",")
	for (i = 1; i <= k; i++) {
		eq = index(parts[i], "=")
		SEL[side, substr(parts[i], 1, eq - 1)] = substr(parts[i], eq + 1)
	}
}

function has_label(r, kv,    parts, k, i) {
	k = split(LABELS[r], parts, ",")
	for (i = 1; i <= k; i++)
		if (parts[i] == kv)
			return 1
	return 0
}

function selected(side, r) {
	if ((side, "service") in SEL && SEL[side, "service"] != SERVICE[r]) return 0
	if ((side, "env") in SEL && SEL[side, "env"] != ENV[r]) return 0
	if ((side, "version") in SEL && SEL[side, "version"] != VERSION[r]) return 0
	if ((side, "zone") in SEL && SEL[side, "zone"] != ZONE[r]) return 0
	if ((side, "label") in SEL && !has_label(r, SEL[side, "label"])) return 0
	if ((side, "from") in SEL && MINUTE[r] < SEL[side, "from"] + 0) return 0
	if ((side, "to") in SEL && MINUTE[r] >= SEL[side, "to"] + 0) return 0
	return 1
}

# Flattens record r: RF[r, fn] and RC[r, fn] (flat and cum), RFNS[r] its names ("\n"-joined),
# RABS[r] the sum of |values|.
function flatten(r, line,    f, nf, k, sample, eq, v, stack, frames, nframes, j, seen, fn) {
	nf = split(line, f, "\t")
	for (k = 8; k <= nf; k++) {
		sample = f[k]
		for (eq = length(sample); eq > 0 && substr(sample, eq, 1) != "="; eq--)
			;
		v = substr(sample, eq + 1) + 0
		stack = substr(sample, 1, eq - 1)
		nframes = split(stack, frames, ";")
		RABS[r] += abs(v)
		for (j = 1; j <= nframes; j++) {
			fn = frames[j]
			if (!((r, fn) in RF)) {
				RF[r, fn] = 0
				RC[r, fn] = 0
				RFNS[r] = RFNS[r] (RFNS[r] == "" ? "" : "\n") fn
			}
		}
		RF[r, frames[nframes]] += v
		split("", seen)
		for (j = 1; j <= nframes; j++) {
			if (!(frames[j] in seen))
				RC[r, frames[j]] += v
			seen[frames[j]] = 1
		}
	}
}

# RFC 3339 UTC of unix seconds (days to civil date: H. Hinnant's algorithm).
function iso(t,    days, secs, z, era, doe, yoe, y, doy, mp, d, m) {
	days = int(t / 86400)
	secs = t - days * 86400
	z = days + 719468
	era = int(z / 146097)
	doe = z - era * 146097
	yoe = int((doe - int(doe / 1460) + int(doe / 36524) - int(doe / 146096)) / 365)
	y = yoe + era * 400
	doy = doe - (365 * yoe + int(yoe / 4) - int(yoe / 100))
	mp = int((5 * doy + 2) / 153)
	d = doy - int((153 * mp + 2) / 5) + 1
	m = mp < 10 ? mp + 3 : mp - 9
	if (m <= 2)
		y++
	return sprintf("%04d-%02d-%02dT%02d:%02d:%02dZ", y, m, d, int(secs / 3600), int(secs % 3600 / 60), secs % 60)
}

# ln Gamma(x), x > 0 (Lanczos, as in Numerical Recipes' gammln).
function gammln(xx,    x, y, tmp, ser) {
	x = y = xx
	tmp = x + 5.5
	tmp -= (x + 0.5) * log(tmp)
	ser = 1.000000000190015
	ser += 76.18009172947146 / ++y
	ser -= 86.50532032941677 / ++y
	ser += 24.01409824083091 / ++y
	ser -= 1.231739572450155 / ++y
	ser += 0.1208650973866179e-2 / ++y
	ser -= 0.5395239384953e-5 / ++y
	return -tmp + log(2.5066282746310005 * ser / x)
}

# The continued fraction of the incomplete beta function (Numerical Recipes' betacf).
function betacf(a, b, x,    m, m2, aa, c, d, del, h, qab, qam, qap) {
	qab = a + b
	qap = a + 1
	qam = a - 1
	c = 1
	d = 1 - qab * x / qap
	if (abs(d) < 1e-300) d = 1e-300
	d = 1 / d
	h = d
	for (m = 1; m <= 1000; m++) {
		m2 = 2 * m
		aa = m * (b - m) * x / ((qam + m2) * (a + m2))
		d = 1 + aa * d
		if (abs(d) < 1e-300) d = 1e-300
		c = 1 + aa / c
		if (abs(c) < 1e-300) c = 1e-300
		d = 1 / d
		h *= d * c
		aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
		d = 1 + aa * d
		if (abs(d) < 1e-300) d = 1e-300
		c = 1 + aa / c
		if (abs(c) < 1e-300) c = 1e-300
		d = 1 / d
		del = d * c
		h *= del
		if (abs(del - 1) < 1e-15)
			break
	}
	return h
}

# The regularized incomplete beta function I_x(a, b).
function betai(a, b, x,    bt) {
	if (x <= 0) return 0
	if (x >= 1) return 1
	bt = exp(gammln(a + b) - gammln(a) - gammln(b) + a * log(x) + b * log(1 - x))
	if (x < (a + 1) / (a + b + 2))
		return bt * betacf(a, b, x) / a
	return 1 - bt * betacf(b, a, 1 - x) / b
}

# Welch's t-test of the per-bucket shares of fn in base and target: the two-sided p-value, or
# -1 when it cannot be computed (fewer than 2 buckets a side, or no variance at all).
function welch(fn,    s, b, n, sum, mean, ss, var, se2, t, df, x, side) {
	for (s = 1; s <= 2; s++) {
		side = s == 1 ? "base" : "target"
		n[s] = 0
		sum[s] = 0
		for (b in BUCKETS) {
			split(b, x, SUBSEP)
			if (x[1] != side) continue
			n[s]++
			sum[s] += VAL[b, fn] / BTOT[b]
		}
		if (n[s] < 2) return -1
		mean[s] = sum[s] / n[s]
		ss = 0
		for (b in BUCKETS) {
			split(b, x, SUBSEP)
			if (x[1] != side) continue
			ss += (VAL[b, fn] / BTOT[b] - mean[s]) ^ 2
		}
		var[s] = ss / (n[s] - 1)
	}
	se2 = var[1] / n[1] + var[2] / n[2]
	if (se2 <= 0) return mean[1] == mean[2] ? 1 : 0 # both sides constant: equal or not
	t = (mean[2] - mean[1]) / sqrt(se2)
	df = se2 ^ 2 / ((var[1] / n[1]) ^ 2 / (n[1] - 1) + (var[2] / n[2]) ^ 2 / (n[2] - 1))
	return betai(df / 2, 0.5, df / (df + t * t))
}

function value_of(r, fn) { return by == "cum" ? RC[r, fn] : RF[r, fn] }

# Rows sorted: key desc by magnitude, then name, then other desc (cp_top_sort's order).
function before_row(i, j) {
	if (abs(RK[i]) != abs(RK[j])) return abs(RK[i]) > abs(RK[j])
	if (RN[i] != RN[j]) return RN[i] < RN[j]
	return abs(RO[i]) > abs(RO[j])
}

# Rows are RK (sort key), RN (name), RO (the other value), RX, RY and RP (carried along).
function sort_rows(n,    i, j, tk, tn, to, tx, ty, tp) {
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && before_row(j, j - 1); j--) {
			tk = RK[j]; tn = RN[j]; to = RO[j]; tx = RX[j]; ty = RY[j]; tp = RP[j]
			RK[j] = RK[j - 1]; RN[j] = RN[j - 1]; RO[j] = RO[j - 1]; RX[j] = RX[j - 1]; RY[j] = RY[j - 1]
			RP[j] = RP[j - 1]
			RK[j - 1] = tk; RN[j - 1] = tn; RO[j - 1] = to; RX[j - 1] = tx; RY[j - 1] = ty; RP[j - 1] = tp
		}
}

# Splits list at "\n" into out[1..n] sorted; returns n.
function sort_words(list, out,    n) {
	n = split(list, out, "\n")
	sort_array(out, n)
	return n
}

function sort_array(out, n,    i, j, t) {
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && out[j] < out[j - 1]; j--) {
			t = out[j]; out[j] = out[j - 1]; out[j - 1] = t
		}
}

function group_of(r) {
	if (group == "service") return SERVICE[r]
	if (group == "env") return ENV[r]
	if (group == "version") return VERSION[r]
	if (group == "zone") return ZONE[r]
	return ""
}

function do_top(    r, g, fn, k, nfn, fns, groups, ng, gi, nr, i, shown) {
	parse_sel("s", sel)
	for (r = 1; r <= NREC; r++) {
		if (!selected("s", r)) continue
		g = group_of(r)
		if (!(g in GSEEN)) { GSEEN[g] = 1; groups[++ng] = g }
		nfn = split(RFNS[r], fns, "\n")
		for (k = 1; k <= nfn; k++) {
			fn = fns[k]
			if (!((g, fn) in TF)) { TF[g, fn] = 0; TC[g, fn] = 0; GFNS[g] = GFNS[g] (GFNS[g] == "" ? "" : "\n") fn }
			TF[g, fn] += RF[r, fn]
			TC[g, fn] += RC[r, fn]
		}
	}
	print (group == "" ? "" : group "\t") "function\tflat\tcum"
	sort_array(groups, ng)
	for (gi = 1; gi <= ng; gi++) {
		g = groups[gi]
		nfn = split(GFNS[g], fns, "\n")
		nr = 0
		for (k = 1; k <= nfn; k++) {
			fn = fns[k]
			if (TF[g, fn] == 0 && TC[g, fn] == 0) continue
			nr++
			RN[nr] = fn
			RK[nr] = by == "cum" ? TC[g, fn] : TF[g, fn]
			RO[nr] = by == "cum" ? TF[g, fn] : TC[g, fn]
			RX[nr] = TF[g, fn]
			RY[nr] = TC[g, fn]
		}
		sort_rows(nr)
		shown = n > 0 && n < nr ? n : nr
		for (i = 1; i <= shown; i++)
			printf "%s%s\t%d\t%d\n", group == "" ? "" : g "\t", RN[i], RX[i], RY[i]
	}
}

function do_diff(    r, s, side, b, nfn, fns, k, fn, all, nr, i, j, shown, m, order, t, q, minq, p, significant, status) {
	parse_sel("base", base)
	parse_sel("target", target)
	for (r = 1; r <= NREC; r++)
		for (s = 1; s <= 2; s++) {
			side = s == 1 ? "base" : "target"
			if (!selected(side, r)) continue
			b = side SUBSEP int(MINUTE[r] / width) * width
			BUCKETS[b] = 1
			BTOT[b] += RABS[r]
			TOT[side] += RABS[r]
			DUR[side] += DURATION[r]
			nfn = split(RFNS[r], fns, "\n")
			for (k = 1; k <= nfn; k++) {
				fn = fns[k]
				if (!(fn in ALL)) { ALL[fn] = 1; all = all (all == "" ? "" : "\n") fn }
				VAL[b, fn] += value_of(r, fn)
				SUM[side, fn] += value_of(r, fn)
			}
		}
	nfn = split(all, fns, "\n")
	nr = 0
	for (k = 1; k <= nfn; k++) {
		fn = fns[k]
		if (SUM["base", fn] == 0 && SUM["target", fn] == 0) continue
		nr++
		RN[nr] = fn
		RX[nr] = SUM["base", fn] / TOT["base"]
		RY[nr] = SUM["target", fn] / TOT["target"]
		RK[nr] = RY[nr] - RX[nr]
		RO[nr] = 0
		# only functions with a mean share of at least test_share are tested (006_diff_filter)
		RP[nr] = (RX[nr] + RY[nr]) / 2 >= (test_share == "" ? 0.005 : test_share) ? welch(fn) : -1
	}
	sort_rows(nr)
	shown = n > 0 && n < nr ? n : nr
	# Benjamini-Hochberg over all the functions compared whose p-value exists (not only those listed).
	m = 0
	for (i = 1; i <= nr; i++)
		if (RP[i] >= 0) order[++m] = i
	for (i = 2; i <= m; i++)
		for (j = i; j > 1 && RP[order[j]] < RP[order[j - 1]]; j--) {
			t = order[j]; order[j] = order[j - 1]; order[j - 1] = t
		}
	minq = 1
	for (i = m; i >= 1; i--) {
		q = RP[order[i]] * m / i
		if (q < minq) minq = q
		Q[order[i]] = minq
	}
	print "function\tbase\ttarget\tbase_share\ttarget_share\tdelta\tbase_rate\ttarget_rate\tp_value\tq_value\tsignificant\tstatus"
	for (i = 1; i <= shown; i++) {
		fn = RN[i]
		p = RP[i] < 0 ? "-" : sprintf("%.3g", RP[i])
		q = RP[i] < 0 ? "-" : sprintf("%.3g", Q[i])
		significant = (RP[i] >= 0 && Q[i] < 0.05) ? "yes" : "no"
		status = SUM["base", fn] == 0 ? "new" : (SUM["target", fn] == 0 ? "vanished" : "")
		printf "%s\t%d\t%d\t%.6g\t%.6g\t%.6g\t%.6g\t%.6g\t%s\t%s\t%s\t%s\n", fn, SUM["base", fn], SUM["target", fn],
			RX[i], RY[i], RY[i] - RX[i], SUM["base", fn] / DUR["base"], SUM["target", fn] / DUR["target"],
			p, q, significant, status
	}
}

function do_series(    r, st, nfn, fns, k, fn, steps, ns, i, list, sl) {
	parse_sel("s", sel)
	nfn = split(fns_arg, fns, " ")
	for (r = 1; r <= NREC; r++) {
		if (!selected("s", r)) continue
		st = int(MINUTE[r] / step) * step
		if (!(st in STOT)) sl = sl (sl == "" ? "" : "\n") sprintf("%012d", st)
		STOT[st] += RABS[r]
		for (k = 1; k <= nfn; k++) {
			SF[st, fns[k]] += RF[r, fns[k]]
			SC[st, fns[k]] += RC[r, fns[k]]
		}
	}
	print "time\tfunction\tflat\tcum\tflat_share\tcum_share"
	ns = sort_words(sl, steps)
	list = ""
	for (k = 1; k <= nfn; k++) list = list (k > 1 ? "\n" : "") fns[k]
	nfn = sort_words(list, fns)
	for (i = 1; i <= ns; i++) {
		st = steps[i] + 0
		for (k = 1; k <= nfn; k++) {
			fn = fns[k]
			printf "%s\t%s\t%d\t%d\t%.6g\t%.6g\n", iso(st), fn, SF[st, fn], SC[st, fn], SF[st, fn] / STOT[st],
				SC[st, fn] / STOT[st]
		}
	}
}

BEGIN {
	FS = "\t"
	if (mode == "norm") OFS = "\t"
	if (n == "") n = 0
	fns_arg = fns
}

mode == "norm" {
	if (FNR > 1) {
		if ($9 != "-" && $9 + 0 < 1e-10) $9 = "<1e-10"
		if ($10 != "-" && $10 + 0 < 1e-10) $10 = "<1e-10"
	}
	print
	next
}

{
	NREC++
	MINUTE[NREC] = int($1 / 60) * 60
	SERVICE[NREC] = $2
	ENV[NREC] = $3
	VERSION[NREC] = $4
	ZONE[NREC] = $5
	LABELS[NREC] = $6 == "-" ? "" : $6
	DURATION[NREC] = $7
	flatten(NREC, $0)
}

END {
	if (mode == "top") do_top()
	else if (mode == "diff") do_diff()
	else if (mode == "series") do_series()
}
