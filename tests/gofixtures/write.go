// write: produces real profiles with runtime/pprof at test time, so the tests compare cprof-query
// with pprof on the kind of data a Go service uploads: two CPU profiles (recursion, mutual
// recursion, inlined helpers in hot loops), heap and allocs (every allocation recorded), mutex
// and block (real contention between goroutines) and goroutine (dozens of parked goroutines with
// distinct stacks). Functions that must stay visible as frames are marked //go:noinline; the small
// helpers without the mark are the ones the compiler inlines into the hot loops.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// sink keeps the results of the workloads alive so the compiler cannot drop the work.
var sink atomic.Uint64

// retained keeps allocations reachable until the heap profile is written, so it has in-use data.
var retained []any

func writeProfiles(dir string) error {
	// As early as possible, so every allocation of the run is in the heap and allocs profiles.
	runtime.MemProfileRate = 1
	runtime.SetMutexProfileFraction(1)
	runtime.SetBlockProfileRate(1)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tree = buildTree(12, 1)
	hashInput = makeHashInput(16 << 10)
	steps := []struct {
		file  string
		write func(io.Writer) error
	}{
		{"cpu.pb.gz", func(w io.Writer) error { return profileCPU(w, mainMix, mainRun) }},
		{"cpu2.pb.gz", func(w io.Writer) error { return profileCPU(w, secondMix, secondRun) }},
		{"heap.pb.gz", writeHeap},
		{"allocs.pb.gz", func(w io.Writer) error { return pprof.Lookup("allocs").WriteTo(w, 0) }},
		{"mutex.pb.gz", writeMutex},
		{"block.pb.gz", writeBlock},
		{"goroutine.pb.gz", writeGoroutines},
	}
	for _, s := range steps {
		if err := writeFile(filepath.Join(dir, s.file), s.write); err != nil {
			return fmt.Errorf("%s: %w", s.file, err)
		}
	}
	runtime.KeepAlive(retained)
	runtime.KeepAlive(tree)
	return nil
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ---- CPU profiles ----

// A task is one short slice of CPU-bound work; each takes about 40 µs, so a mix spends its time
// roughly evenly across its tasks.
type task func() uint64

var mainMix = []task{fibTask, mutualTask, treeTask, hashTask, checksumTask}
var secondMix = []task{hashTask, checksumTask, checksumTask, treeTask, mutualTask, mutualTask}

const cpuWorkers = 2

// cpuRun says how long a CPU profile runs: until the process has used budget of CPU time, or
// after wall time when it has used at least minimum (a loaded machine is slower), and never
// longer than maxWall. Sized in CPU time so a loaded machine still yields enough samples.
type cpuRun struct {
	budget, wall, minimum, maxWall time.Duration
}

func (r cpuRun) done(cpuUsed, elapsed time.Duration) bool {
	return cpuUsed >= r.budget || (elapsed >= r.wall && cpuUsed >= r.minimum) || elapsed >= r.maxWall
}

// On an idle machine with two cores: about 1.3 s and 0.8 s.
var mainRun = cpuRun{budget: 2500 * time.Millisecond, wall: 3 * time.Second, minimum: time.Second, maxWall: 8 * time.Second}
var secondRun = cpuRun{budget: 1500 * time.Millisecond, wall: 2 * time.Second, minimum: 600 * time.Millisecond, maxWall: 5 * time.Second}

// profileCPU runs the tasks on cpuWorkers goroutines under the CPU profiler for as long as run
// says.
func profileCPU(w io.Writer, tasks []task, run cpuRun) error {
	if err := pprof.StartCPUProfile(w); err != nil {
		return err
	}
	cpuStart := processCPUTime()
	start := time.Now()
	var stop atomic.Bool
	var wg sync.WaitGroup
	for i := 0; i < cpuWorkers; i++ {
		wg.Add(1)
		labels := pprof.Labels("worker", fmt.Sprint(i))
		go pprof.Do(context.Background(), labels, func(context.Context) {
			defer wg.Done()
			runTasks(tasks, &stop)
		})
	}
	for !run.done(processCPUTime()-cpuStart, time.Since(start)) {
		time.Sleep(20 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	pprof.StopCPUProfile()
	return nil
}

//go:noinline
func runTasks(tasks []task, stop *atomic.Bool) {
	var acc uint64
	for i := 0; !stop.Load(); i++ {
		acc += tasks[i%len(tasks)]()
	}
	sink.Add(acc)
}

// processCPUTime is the user plus system CPU time the process has used so far.
func processCPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Direct recursion.

func fibTask() uint64 { return fib(20) }

//go:noinline
func fib(n int) uint64 {
	if n < 2 {
		return uint64(n)
	}
	return fib(n-1) + fib(n-2)
}

// Mutual recursion: ping and pong call each other, doing some work at every level.

func mutualTask() uint64 { return ping(40, 1) }

//go:noinline
func ping(depth int, acc uint64) uint64 {
	for i := 0; i < 800; i++ {
		acc = acc*6364136223846793005 + 1442695040888963407
	}
	if depth == 0 {
		return acc
	}
	return pong(depth-1, acc)
}

//go:noinline
func pong(depth int, acc uint64) uint64 {
	for i := 0; i < 800; i++ {
		acc ^= acc >> 13
		acc *= 0x9e3779b97f4a7c15
	}
	if depth == 0 {
		return acc
	}
	return ping(depth-1, acc)
}

// Recursive tree walk over a tree built once (its nodes are in the heap profile).

type treeNode struct {
	value       uint64
	left, right *treeNode
}

// tree is built by writeProfiles, after the allocation profiling rate is set.
var tree *treeNode

//go:noinline
func buildTree(depth int, seed uint64) *treeNode {
	n := &treeNode{value: seed}
	if depth > 0 {
		n.left = buildTree(depth-1, seed*2)
		n.right = buildTree(depth-1, seed*2+1)
	}
	return n
}

func treeTask() uint64 { return walkTree(tree) }

//go:noinline
func walkTree(n *treeNode) uint64 {
	if n == nil {
		return 0
	}
	return n.value ^ (walkTree(n.left) + 3*walkTree(n.right))
}

// Hot loops with inlined helpers: the sampled program counters sit inside mixByte (and rotl
// inlined into it), so their locations carry several lines.

// hashInput is filled by writeProfiles, after the allocation profiling rate is set.
var hashInput []byte

//go:noinline
func makeHashInput(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 131)
	}
	return b
}

func rotl(x uint64, k uint) uint64 { return x<<k | x>>(64-k) }

func mixByte(h uint64, b byte) uint64 { return rotl(h^uint64(b), 23) * 0x100000001b3 }

func hashTask() uint64 { return hashBytes(hashInput) }

//go:noinline
func hashBytes(data []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, b := range data {
		h = mixByte(h, b)
	}
	return h
}

func clampInt(v, lo, hi int) int {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}

func square(v int) int { return v * v }

func checksumTask() uint64 { return checksum(20000) }

//go:noinline
func checksum(n int) uint64 {
	var sum uint64
	for i := 0; i < n; i++ {
		sum += uint64(square(clampInt(i%977-400, -300, 300)))
		sum = rotl(sum, 7)
	}
	return sum
}

// ---- heap and allocs ----

func writeHeap(w io.Writer) error {
	allocateRetained()
	allocateTransient()
	runtime.GC() // the heap profile shows the state as of the last completed collection
	return pprof.Lookup("heap").WriteTo(w, 0)
}

//go:noinline
func allocateRetained() {
	for i := 0; i < 64; i++ {
		retained = append(retained, make([]byte, 1024+i*64))
	}
	retained = append(retained, buildTree(8, 7), makeTable(200))
}

//go:noinline
func makeTable(n int) map[int]string {
	m := make(map[int]string, n)
	for i := 0; i < n; i++ {
		m[i] = fmt.Sprintf("entry-%d", i)
	}
	return m
}

//go:noinline
func allocateTransient() {
	var total int
	for i := 0; i < 500; i++ {
		total += len(scratchBuffer(i))
	}
	sink.Add(uint64(total))
}

//go:noinline
func scratchBuffer(i int) []byte { return make([]byte, 256+i%512) }

// ---- mutex ----

// writeMutex makes goroutines contend for one mutex (each holds it across a short sleep, so the
// others must wait) and for one RWMutex, then writes the mutex profile.
func writeMutex(w io.Writer) error {
	var mu sync.Mutex
	var rw sync.RWMutex
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(2)
		go func() { defer wg.Done(); holdMutex(&mu, 25) }()
		go func() { defer wg.Done(); holdRWMutex(&rw, 15) }()
	}
	wg.Wait()
	return pprof.Lookup("mutex").WriteTo(w, 0)
}

//go:noinline
func holdMutex(mu *sync.Mutex, rounds int) {
	for i := 0; i < rounds; i++ {
		mu.Lock()
		time.Sleep(200 * time.Microsecond)
		mu.Unlock()
	}
}

//go:noinline
func holdRWMutex(rw *sync.RWMutex, rounds int) {
	for i := 0; i < rounds; i++ {
		rw.Lock()
		time.Sleep(200 * time.Microsecond)
		rw.Unlock()
		rw.RLock()
		time.Sleep(50 * time.Microsecond)
		rw.RUnlock()
	}
}

// ---- block ----

// writeBlock makes goroutines block on an unbuffered channel, a select, a mutex and a
// WaitGroup, then writes the block profile.
func writeBlock(w io.Writer) error {
	values := make(chan int)
	ticks := make(chan int)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); produceSlowly(values, 40) }()
	go func() { defer wg.Done(); consumeAll(values) }()
	go func() { defer wg.Done(); selectUntilDone(ticks, done) }()
	for i := 0; i < 20; i++ {
		ticks <- i
		time.Sleep(300 * time.Microsecond)
	}
	close(done)
	var mu sync.Mutex
	var lockers sync.WaitGroup
	for i := 0; i < 3; i++ {
		lockers.Add(1)
		go func() { defer lockers.Done(); holdMutex(&mu, 10) }()
	}
	waitForGroup(&lockers)
	wg.Wait()
	return pprof.Lookup("block").WriteTo(w, 0)
}

//go:noinline
func produceSlowly(out chan<- int, n int) {
	for i := 0; i < n; i++ {
		time.Sleep(200 * time.Microsecond)
		out <- i
	}
	close(out)
}

//go:noinline
func consumeAll(in <-chan int) {
	var sum int
	for v := range in {
		sum += v
	}
	sink.Add(uint64(sum))
}

//go:noinline
func selectUntilDone(ticks <-chan int, done <-chan struct{}) {
	var sum int
	for {
		select {
		case v := <-ticks:
			sum += v
		case <-done:
			sink.Add(uint64(sum))
			return
		}
	}
}

//go:noinline
func waitForGroup(wg *sync.WaitGroup) { wg.Wait() }

// ---- goroutine ----

const parkedGoroutines = 48

// parkGate holds everything the parked goroutines wait on; release lets all of them go.
type parkGate struct {
	channel chan struct{}
	mu      sync.Mutex
	cond    *sync.Cond
	opened  bool
}

// writeGoroutines parks goroutines in four ways (channel receive, select, mutex, condition
// variable), each at a different call depth so every goroutine has its own stack, writes the
// goroutine profile while they wait, then releases them.
func writeGoroutines(w io.Writer) error {
	gate := &parkGate{channel: make(chan struct{})}
	gate.cond = sync.NewCond(&sync.Mutex{})
	gate.mu.Lock()
	before := runtime.NumGoroutine()
	var parked, finished sync.WaitGroup
	for i := 0; i < parkedGoroutines; i++ {
		parked.Add(1)
		finished.Add(1)
		go func(i int) {
			defer finished.Done()
			parkAtDepth(gate, i/4, i%4, &parked)
		}(i)
	}
	parked.Wait()
	// Done() runs just before each goroutine blocks: give the last ones time to park.
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); {
		if runtime.NumGoroutine() >= before+parkedGoroutines {
			break
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	err := pprof.Lookup("goroutine").WriteTo(w, 0)
	gate.release()
	finished.Wait()
	return err
}

func (g *parkGate) release() {
	close(g.channel)
	g.mu.Unlock()
	g.cond.L.Lock()
	g.opened = true
	g.cond.Broadcast()
	g.cond.L.Unlock()
}

//go:noinline
func parkAtDepth(g *parkGate, depth, kind int, parked *sync.WaitGroup) {
	if depth > 0 {
		parkAtDepth(g, depth-1, kind, parked)
		return
	}
	switch kind {
	case 0:
		parkOnChannel(g, parked)
	case 1:
		parkInSelect(g, parked)
	case 2:
		parkOnMutex(g, parked)
	default:
		parkOnCond(g, parked)
	}
}

//go:noinline
func parkOnChannel(g *parkGate, parked *sync.WaitGroup) {
	parked.Done()
	<-g.channel
}

//go:noinline
func parkInSelect(g *parkGate, parked *sync.WaitGroup) {
	never := make(chan int)
	parked.Done()
	select {
	case <-g.channel:
	case v := <-never:
		sink.Add(uint64(v))
	}
}

//go:noinline
func parkOnMutex(g *parkGate, parked *sync.WaitGroup) {
	parked.Done()
	g.mu.Lock()
	g.mu.Unlock()
}

//go:noinline
func parkOnCond(g *parkGate, parked *sync.WaitGroup) {
	g.cond.L.Lock()
	parked.Done()
	for !g.opened {
		g.cond.Wait()
	}
	g.cond.L.Unlock()
}
