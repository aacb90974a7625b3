package main

import (
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strconv"
	"time"
)

// Latencies is what /bench answers: n sequential calls to addr's /whoami over one kept-alive
// connection, as a service calling another would make them.
type Latencies struct {
	Addr       string `json:"addr"`
	N          int    `json:"n"`
	Errors     int    `json:"errors"`
	P50Micros  int64  `json:"p50Micros"`
	P99Micros  int64  `json:"p99Micros"`
	MeanMicros int64  `json:"meanMicros"`
}

const maxBenchCalls = 10000

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p)
	return sorted[i]
}

func measure(addr string, n int) Latencies {
	result := Latencies{Addr: addr, N: n}
	durations := make([]time.Duration, 0, n)
	var total time.Duration
	for range n {
		started := time.Now()
		res, err := client.Get("http://" + addr + "/whoami")
		if err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
		if err != nil || res.StatusCode != http.StatusOK {
			result.Errors++
			continue
		}
		elapsed := time.Since(started)
		durations = append(durations, elapsed)
		total += elapsed
	}
	sort.Slice(durations, func(i, j int) bool { return durations[i] < durations[j] })
	result.P50Micros = percentile(durations, 0.50).Microseconds()
	result.P99Micros = percentile(durations, 0.99).Microseconds()
	if len(durations) > 0 {
		result.MeanMicros = (total / time.Duration(len(durations))).Microseconds()
	}
	return result
}

// handleBench: /bench?addr=host:port&n=N measures calls from this pod to another service.
func handleBench(w http.ResponseWriter, r *http.Request) {
	addr := r.URL.Query().Get("addr")
	n, err := strconv.Atoi(r.URL.Query().Get("n"))
	if addr == "" || err != nil || n <= 0 || n > maxBenchCalls {
		http.Error(w, "addr=host:port and n=1..10000 are required", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(measure(addr, n))
}
