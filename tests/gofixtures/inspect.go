// inspect: prints one line of facts about a pprof profile (gzip or raw protobuf), so the tests can
// prove the fixtures have the features they are meant to exercise:
//
//	types=cpu/nanoseconds,... samples=N inlined_locations=N recursion=yes|no recursive_samples=N default_sample_type=NAME
//
// inlined_locations counts locations with two or more lines; a sample is recursive when the
// function names along its stack repeat. A minimal reader of the protobuf wire format, so the
// module needs nothing beyond the standard library.
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Field numbers of perftools.profiles.Profile and the messages it holds.
const (
	profileSampleType        = 1
	profileSample            = 2
	profileLocation          = 4
	profileFunction          = 5
	profileStringTable       = 6
	profileDefaultSampleType = 14

	valueTypeType = 1
	valueTypeUnit = 2

	sampleLocationID = 1

	locationID   = 1
	locationLine = 4

	lineFunctionID = 1

	functionID   = 1
	functionName = 2
)

// Wire types of the protobuf encoding.
const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
	wireFixed32 = 5
)

var errTruncated = errors.New("truncated protobuf message")

// pbField is one decoded field: its varint value, or its bytes for length-delimited fields.
type pbField struct {
	number int
	wire   int
	value  uint64
	data   []byte
}

// pbFields calls visit for every field of a message, in order.
func pbFields(msg []byte, visit func(f pbField) error) error {
	for len(msg) > 0 {
		key, n := pbVarint(msg)
		if n == 0 {
			return errTruncated
		}
		msg = msg[n:]
		f := pbField{number: int(key >> 3), wire: int(key & 7)}
		switch f.wire {
		case wireVarint:
			f.value, n = pbVarint(msg)
			if n == 0 {
				return errTruncated
			}
		case wireFixed64:
			n = 8
		case wireFixed32:
			n = 4
		case wireBytes:
			size, m := pbVarint(msg)
			if m == 0 || size > uint64(len(msg)-m) {
				return errTruncated
			}
			f.data = msg[m : m+int(size)]
			n = m + int(size)
		default:
			return fmt.Errorf("unsupported protobuf wire type %d", f.wire)
		}
		if n > len(msg) {
			return errTruncated
		}
		msg = msg[n:]
		if err := visit(f); err != nil {
			return err
		}
	}
	return nil
}

// pbVarint decodes a varint; n is 0 when b does not hold a complete one.
func pbVarint(b []byte) (v uint64, n int) {
	for i := 0; i < len(b) && i < 10; i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i] < 0x80 {
			return v, i + 1
		}
	}
	return 0, 0
}

// pbRepeatedVarints returns the values of a repeated integer field, packed or not.
func pbRepeatedVarints(f pbField) ([]uint64, error) {
	if f.wire == wireVarint {
		return []uint64{f.value}, nil
	}
	if f.wire != wireBytes {
		return nil, fmt.Errorf("field %d: wire type %d for a repeated integer", f.number, f.wire)
	}
	var out []uint64
	for b := f.data; len(b) > 0; {
		v, n := pbVarint(b)
		if n == 0 {
			return nil, errTruncated
		}
		out = append(out, v)
		b = b[n:]
	}
	return out, nil
}

// profileFacts is what inspect reads from a profile: only what its report needs.
type profileFacts struct {
	sampleTypes       [][2]uint64         // string indexes of type and unit
	sampleStacks      [][]uint64          // location ids of every sample
	locationFunctions map[uint64][]uint64 // location id -> function id of each line
	functionNames     map[uint64]uint64   // function id -> string index of its name
	strings           []string
	defaultSampleType uint64
}

func readProfileFacts(msg []byte) (*profileFacts, error) {
	p := &profileFacts{locationFunctions: map[uint64][]uint64{}, functionNames: map[uint64]uint64{}}
	err := pbFields(msg, func(f pbField) error {
		switch f.number {
		case profileSampleType:
			var vt [2]uint64
			err := pbFields(f.data, func(g pbField) error {
				switch g.number {
				case valueTypeType:
					vt[0] = g.value
				case valueTypeUnit:
					vt[1] = g.value
				}
				return nil
			})
			p.sampleTypes = append(p.sampleTypes, vt)
			return err
		case profileSample:
			var stack []uint64
			err := pbFields(f.data, func(g pbField) error {
				if g.number != sampleLocationID {
					return nil
				}
				ids, err := pbRepeatedVarints(g)
				stack = append(stack, ids...)
				return err
			})
			p.sampleStacks = append(p.sampleStacks, stack)
			return err
		case profileLocation:
			var id uint64
			var functions []uint64
			err := pbFields(f.data, func(g pbField) error {
				switch g.number {
				case locationID:
					id = g.value
				case locationLine:
					var fn uint64
					err := pbFields(g.data, func(h pbField) error {
						if h.number == lineFunctionID {
							fn = h.value
						}
						return nil
					})
					functions = append(functions, fn)
					return err
				}
				return nil
			})
			p.locationFunctions[id] = functions
			return err
		case profileFunction:
			var id, name uint64
			err := pbFields(f.data, func(g pbField) error {
				switch g.number {
				case functionID:
					id = g.value
				case functionName:
					name = g.value
				}
				return nil
			})
			p.functionNames[id] = name
			return err
		case profileStringTable:
			p.strings = append(p.strings, string(f.data))
		case profileDefaultSampleType:
			p.defaultSampleType = f.value
		}
		return nil
	})
	return p, err
}

func (p *profileFacts) str(index uint64) string {
	if index < uint64(len(p.strings)) {
		return p.strings[index]
	}
	return fmt.Sprintf("<bad string index %d>", index)
}

// recursive reports whether a function name occurs twice along the stack.
func (p *profileFacts) recursive(stack []uint64) bool {
	seen := map[string]bool{}
	for _, loc := range stack {
		for _, fn := range p.locationFunctions[loc] {
			name := p.str(p.functionNames[fn])
			if seen[name] {
				return true
			}
			seen[name] = true
		}
	}
	return false
}

func (p *profileFacts) report(w io.Writer) error {
	types := make([]string, len(p.sampleTypes))
	for i, vt := range p.sampleTypes {
		types[i] = p.str(vt[0]) + "/" + p.str(vt[1])
	}
	inlined := 0
	for _, functions := range p.locationFunctions {
		if len(functions) >= 2 {
			inlined++
		}
	}
	recursive := 0
	for _, stack := range p.sampleStacks {
		if p.recursive(stack) {
			recursive++
		}
	}
	recursion := "no"
	if recursive > 0 {
		recursion = "yes"
	}
	_, err := fmt.Fprintf(w, "types=%s samples=%d inlined_locations=%d recursion=%s recursive_samples=%d default_sample_type=%s\n",
		strings.Join(types, ","), len(p.sampleStacks), inlined, recursion, recursive, p.str(p.defaultSampleType))
	return err
}

// readProfileBytes returns the protobuf bytes of a profile file, gunzipped when needed.
func readProfileBytes(path string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if !bytes.HasPrefix(raw, []byte{0x1f, 0x8b}) {
		return raw, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	return io.ReadAll(zr)
}

func inspectProfile(path string, out io.Writer) error {
	msg, err := readProfileBytes(path)
	if err != nil {
		return err
	}
	p, err := readProfileFacts(msg)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	w := bufio.NewWriter(out)
	if err := p.report(w); err != nil {
		return err
	}
	return w.Flush()
}
