// The checkout workload: every worker handles orders in a loop, each order going through the same
// chain of //go:noinline functions, so the functions show up by name in the profiles cprof
// collects. Without -regress the CPU splits roughly parseOrder 25-30%, priceItems 20%,
// applyDiscounts 10%, hashReceipt 20%, renderReceipt 15%; with -regress applyDiscounts does 6x the
// work and becomes the biggest (about 40%). reserveStock contends on a shared mutex (mutex
// profile) and shipOrder waits for a single shipper (block profile). Inputs come from a fixed
// seed, so every run does the same work.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Work per order, tuned by profiling the service (see README.md).
const (
	parsePasses    = 8     // times parseOrder decodes the document
	priceRounds    = 3400  // passes of priceItems over the items
	discountRounds = 20000 // iterations of applyDiscounts; regressFactor times more with -regress
	regressFactor  = 6     // how much more work applyDiscounts does in the canary
	receiptSize    = 4096  // bytes hashed by hashReceipt
	hashRounds     = 11    // chained sha256 passes over the receipt
	renderRounds   = 36    // times renderReceipt formats the receipt
	stockWork      = 2000  // iterations done while holding stockMu
	restock        = 1000  // units added to an item's stock when it runs out
	sampleOrders   = 16    // distinct order documents, used in turn
	itemsPerOrder  = 8

	sliceLength = 10 * time.Millisecond  // workers run for about this long between sleeps
	shipTime    = 200 * time.Microsecond // shipper time per order, on average
	shipNap     = time.Millisecond       // shortest sleep the shipper takes
)

// Item is one line of an order.
type Item struct {
	SKU       string   `json:"sku"`
	Name      string   `json:"name"`
	Quantity  int      `json:"quantity"`
	UnitPrice float64  `json:"unit_price"`
	TaxRate   float64  `json:"tax_rate"`
	Weight    float64  `json:"weight_kg"`
	Tags      []string `json:"tags"`
}

// Address is where an order is shipped.
type Address struct {
	Street  string `json:"street"`
	City    string `json:"city"`
	Zip     string `json:"zip"`
	Country string `json:"country"`
}

// Order is what parseOrder decodes from an order document.
type Order struct {
	ID       int      `json:"id"`
	Customer string   `json:"customer"`
	Email    string   `json:"email"`
	Currency string   `json:"currency"`
	Coupons  []string `json:"coupons"`
	ShipTo   Address  `json:"ship_to"`
	Items    []Item   `json:"items"`
}

var (
	// orderDocs are the JSON order documents (about 1 KB each) the workers decode.
	orderDocs [][]byte
	// receiptTemplate is the fixed body of a receipt that hashReceipt digests.
	receiptTemplate []byte

	// stockMu guards stock; every worker takes it in reserveStock.
	stockMu sync.Mutex
	stock   = map[string]int{}

	// shipments carries order ids to the single shipper goroutine; unbuffered on purpose.
	shipments = make(chan int)

	// nextOrderID numbers the orders the workers handle.
	nextOrderID atomic.Int64

	// sink keeps the results of the workload alive so the compiler cannot drop the work.
	sink atomic.Uint64
)

// prepareInputs builds the order documents and the receipt template from a fixed seed.
func prepareInputs() {
	rng := rand.New(rand.NewSource(42))
	names := []string{"espresso beans", "paper filters", "milk frother", "ceramic mug",
		"grinder burrs", "descaler", "travel flask", "tamper", "scale", "kettle"}
	for i := 0; i < sampleOrders; i++ {
		order := Order{
			ID:       1000 + i,
			Customer: fmt.Sprintf("customer-%04d", rng.Intn(10000)),
			Email:    fmt.Sprintf("buyer%d@example.com", rng.Intn(10000)),
			Currency: "EUR",
			Coupons:  []string{"WELCOME10", fmt.Sprintf("BULK%d", rng.Intn(50))},
			ShipTo:   Address{Street: "12 Market Street", City: "Lyon", Zip: "69002", Country: "FR"},
		}
		for j := 0; j < itemsPerOrder; j++ {
			sku := fmt.Sprintf("SKU-%05d", rng.Intn(500))
			order.Items = append(order.Items, Item{
				SKU:       sku,
				Name:      names[rng.Intn(len(names))],
				Quantity:  1 + rng.Intn(5),
				UnitPrice: math.Round(rng.Float64()*10000) / 100,
				TaxRate:   []float64{0.055, 0.1, 0.2}[rng.Intn(3)],
				Weight:    math.Round(rng.Float64()*300) / 100,
				Tags:      []string{"coffee", "kitchen"},
			})
			stock[sku] = restock
		}
		doc, err := json.Marshal(order)
		if err != nil {
			panic(err)
		}
		orderDocs = append(orderDocs, doc)
	}
	receiptTemplate = make([]byte, receiptSize)
	rng.Read(receiptTemplate)
}

// startWorkload starts the shipper and the workers; they stop when ctx is done.
func startWorkload(ctx context.Context, wg *sync.WaitGroup, regress bool, cpu float64, workers int) {
	prepareInputs()
	discounts := discountRounds
	if regress {
		discounts *= regressFactor
	}
	wg.Add(1 + workers)
	go func() {
		defer wg.Done()
		shipper(ctx)
	}()
	for i := 0; i < workers; i++ {
		go func() {
			defer wg.Done()
			worker(ctx, discounts, cpu/float64(workers))
		}()
	}
}

// worker handles orders in slices of about sliceLength, sleeping between slices so that it uses
// the given fraction of a core on average. Time spent waiting for the shipper is not work, so it
// does not count toward the slice's length when working out the sleep.
func worker(ctx context.Context, discounts int, fraction float64) {
	receipt := make([]byte, receiptSize)
	for {
		start := time.Now()
		var waited time.Duration
		for time.Since(start) < sliceLength {
			id := int(nextOrderID.Add(1))
			waited += handleOrder(ctx, id, discounts, receipt)
		}
		worked := time.Since(start) - waited
		rest := time.Duration(float64(worked) * (1 - fraction) / fraction)
		select {
		case <-ctx.Done():
			return
		case <-time.After(rest):
		}
	}
}

// shipper takes the orders off shipments one at a time, shipTime each on average. Sleeps shorter
// than about a millisecond overshoot (timer granularity), so it owes shipTime per order and sleeps
// off the debt once it reaches shipNap; a worker sending meanwhile blocks in shipOrder.
func shipper(ctx context.Context) {
	var debt time.Duration
	for {
		select {
		case <-ctx.Done():
			return
		case id := <-shipments:
			sink.Add(uint64(id))
			debt += shipTime
			if debt >= shipNap {
				start := time.Now()
				time.Sleep(debt)
				debt -= time.Since(start)
			}
		}
	}
}

// handleOrder takes one order from its document to the shipper. It returns how long it waited for
// the shipper.
//
//go:noinline
func handleOrder(ctx context.Context, id, discounts int, receipt []byte) time.Duration {
	order := parseOrder(orderDocs[id%len(orderDocs)])
	order.ID = id
	subtotal := priceItems(order)
	total := applyDiscounts(order, subtotal, discounts)
	digest := hashReceipt(order, total, receipt)
	text := renderReceipt(order, total, digest)
	reserveStock(order)
	waited := shipOrder(ctx, id)
	sink.Add(uint64(len(text)) + uint64(digest[0]))
	return waited
}

// parseOrder decodes an order document. The checkout decodes every order several times (request,
// audit log, fraud check); parsePasses stands for that.
//
//go:noinline
func parseOrder(doc []byte) *Order {
	var order *Order
	for pass := 0; pass < parsePasses; pass++ {
		order = new(Order)
		if err := json.Unmarshal(doc, order); err != nil {
			panic(err)
		}
	}
	return order
}

// priceItems computes the order's subtotal with tax, rounding per line as a till would.
//
//go:noinline
func priceItems(order *Order) float64 {
	subtotal := 0.0
	for round := 0; round < priceRounds; round++ {
		subtotal = 0
		for i := range order.Items {
			item := &order.Items[i]
			line := float64(item.Quantity) * item.UnitPrice * (1 + item.TaxRate)
			line += math.Sqrt(item.Weight*float64(round+1)) * 0.01
			subtotal += math.Floor(line*100+0.5) / 100
		}
	}
	return subtotal
}

// applyDiscounts walks the discount tiers and coupons to find the order's total.
//
//go:noinline
func applyDiscounts(order *Order, subtotal float64, rounds int) float64 {
	best := subtotal
	key := uint64(order.ID)
	for i := 0; i < rounds; i++ {
		key = key*6364136223846793005 + 1442695040888963407
		tier := int(key>>59) + len(order.Coupons)
		rate := float64(tier%20) / 200
		candidate := subtotal*(1-rate) - float64(i%7)*0.01
		if candidate < best && candidate > subtotal*0.8 {
			best = candidate
		}
	}
	return math.Floor(best*100) / 100
}

// hashReceipt digests the receipt with the order's id and total stamped in.
//
//go:noinline
func hashReceipt(order *Order, total float64, receipt []byte) [32]byte {
	copy(receipt, receiptTemplate)
	binary.LittleEndian.PutUint64(receipt[0:], uint64(order.ID))
	binary.LittleEndian.PutUint64(receipt[8:], math.Float64bits(total))
	digest := sha256.Sum256(receipt)
	for round := 1; round < hashRounds; round++ {
		copy(receipt[16:], digest[:])
		digest = sha256.Sum256(receipt)
	}
	return digest
}

// renderReceipt formats the receipt text sent to the customer.
//
//go:noinline
func renderReceipt(order *Order, total float64, digest [32]byte) string {
	var text string
	for round := 0; round < renderRounds; round++ {
		var b strings.Builder
		b.WriteString("Order ")
		b.WriteString(strconv.Itoa(order.ID))
		b.WriteString(" for ")
		b.WriteString(order.Customer)
		b.WriteByte('\n')
		for _, item := range order.Items {
			b.WriteString(item.SKU)
			b.WriteString("  ")
			b.WriteString(item.Name)
			b.WriteString("  x")
			b.WriteString(strconv.Itoa(item.Quantity))
			b.WriteString("  ")
			b.WriteString(strconv.FormatFloat(item.UnitPrice, 'f', 2, 64))
			b.WriteString(" ")
			b.WriteString(order.Currency)
			b.WriteByte('\n')
		}
		b.WriteString("Total ")
		b.WriteString(strconv.FormatFloat(total, 'f', 2, 64))
		b.WriteString(" ")
		b.WriteString(strconv.FormatUint(binary.BigEndian.Uint64(digest[:8]), 16))
		b.WriteByte('\n')
		text = b.String()
	}
	return text
}

// reserveStock takes the items out of the shared stock; the workers contend on stockMu here.
//
//go:noinline
func reserveStock(order *Order) {
	stockMu.Lock()
	defer stockMu.Unlock()
	check := uint64(0)
	for i := 0; i < stockWork; i++ {
		item := &order.Items[i%len(order.Items)]
		check += uint64(stock[item.SKU])
	}
	for _, item := range order.Items {
		if stock[item.SKU] < item.Quantity {
			stock[item.SKU] += restock
		}
		stock[item.SKU] -= item.Quantity
	}
	sink.Add(check & 1)
}

// shipOrder hands the order to the shipper, waiting while the shipper is busy, and returns how
// long that took.
//
//go:noinline
func shipOrder(ctx context.Context, id int) time.Duration {
	start := time.Now()
	select {
	case shipments <- id:
	case <-ctx.Done():
	}
	return time.Since(start)
}
