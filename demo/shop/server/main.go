// Command shop is every micro-service of the demo shop (demo/shop): one small HTTP server that
// plays the service named by SERVICE_NAME. A request to / calls the services it depends on, by
// Service name, and answers with a trace of every hop (service, pod, node, cluster, pod IP), so
// the answer shows which cluster served each call.
//
// Configuration (environment):
//
//	SERVICE_NAME   the service it plays (frontend, cartservice, ...)
//	PORT           where it listens (default 8080)
//	*_ADDR         a dependency, "host:port", as Online Boutique passes them (CART_SERVICE_ADDR=cartservice:7070;
//	               not the <SVC>_PORT_<n>_TCP_ADDR variables the kubelet sets for every Service)
//	DNS_CALLS      more dependencies, written as plain DNS names ("adservice:9555 emailservice.shop:5000")
//	POD_NAME, POD_NAMESPACE, NODE_NAME, POD_IP   from the downward API
//	SECRET_VALUE   a Secret's key through secretKeyRef (reported as its length and a digest, never in clear)
//	CONFIG_DIR     a ConfigMap volume (default /etc/shop): "currency", and "clusters" (lines "name CIDR")
//	               naming the cluster whose pod network holds POD_IP
//
//	TOKEN_FILE     a service-account token (default: the one Kubernetes mounts); its CA is ca.crt beside it
//
// Endpoints: / (call every dependency, answer the trace), /whoami (this hop only),
// /call?addr=host:port (call one address, answer its trace), /apiserver (who the token makes us
// at the apiserver the `kubernetes` Service leads to), /bench?addr=host:port&n=N (latency of N
// calls to another service), /ready (readiness: 503 once the file /tmp/unready exists), /healthz.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Hop is what one service reports about itself and the calls it made.
type Hop struct {
	Service   string `json:"service"`
	Pod       string `json:"pod"`
	Namespace string `json:"namespace"`
	Node      string `json:"node"`
	Cluster   string `json:"cluster"`
	PodIP     string `json:"podIP"`
	Config    string `json:"config,omitempty"`
	Secret    string `json:"secret,omitempty"`
	Calls     []Call `json:"calls,omitempty"`
}

// Call is one dependency call: how its address was given, and the callee's answer.
type Call struct {
	Addr     string `json:"addr"`
	Via      string `json:"via"`
	Millis   int64  `json:"ms"`
	Error    string `json:"error,omitempty"`
	Response *Hop   `json:"response,omitempty"`
}

type dependency struct{ addr, via string }

const (
	callTimeout = 4 * time.Second
	// hopsHeader counts the hops of a request, so that a cycle of calls ends.
	hopsHeader = "X-Shop-Hops"
	maxHops    = 8
)

// The kubelet's Service variables (CARTSERVICE_PORT_7070_TCP_ADDR) are not dependencies.
var serviceLinkVariable = regexp.MustCompile(`_PORT_\d+_(TCP|UDP|SCTP)_ADDR$`)

var client = &http.Client{Timeout: callTimeout}

func env(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}

func configDir() string { return env("CONFIG_DIR", "/etc/shop") }

func readConfig(name string) string {
	b, err := os.ReadFile(filepath.Join(configDir(), name))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// clusterOf names the cluster whose pod network (a "name CIDR" line of the config) holds ip.
func clusterOf(ip string) string {
	addr := net.ParseIP(ip)
	for _, line := range strings.Split(readConfig("clusters"), "\n") {
		fields := strings.Fields(line)
		if len(fields) != 2 {
			continue
		}
		if _, cidr, err := net.ParseCIDR(fields[1]); err == nil && addr != nil && cidr.Contains(addr) {
			return fields[0]
		}
	}
	return "unknown"
}

func secretSummary() string {
	v := os.Getenv("SECRET_VALUE")
	if v == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(v))
	return fmt.Sprintf("%d bytes, sha256 %s", len(v), hex.EncodeToString(sum[:])[:12])
}

func self() Hop {
	hop := Hop{
		Service:   env("SERVICE_NAME", "unnamed"),
		Pod:       env("POD_NAME", "?"),
		Namespace: env("POD_NAMESPACE", "?"),
		Node:      env("NODE_NAME", "?"),
		PodIP:     env("POD_IP", "?"),
		Secret:    secretSummary(),
	}
	hop.Cluster = clusterOf(hop.PodIP)
	if currency := readConfig("currency"); currency != "" {
		hop.Config = "currency=" + currency
	}
	return hop
}

// dependencies: every *_ADDR variable (sorted), then DNS_CALLS in order.
func dependencies() []dependency {
	var deps []dependency
	for _, kv := range os.Environ() {
		key, value, _ := strings.Cut(kv, "=")
		if strings.HasSuffix(key, "_ADDR") && !serviceLinkVariable.MatchString(key) && value != "" {
			deps = append(deps, dependency{addr: value, via: "env " + key})
		}
	}
	sort.Slice(deps, func(i, j int) bool { return deps[i].via < deps[j].via })
	for _, addr := range strings.Fields(os.Getenv("DNS_CALLS")) {
		deps = append(deps, dependency{addr: addr, via: "dns"})
	}
	return deps
}

func call(ctx context.Context, dep dependency, hops int) (result Call) {
	started := time.Now()
	result = Call{Addr: dep.addr, Via: dep.via}
	defer func() { result.Millis = time.Since(started).Milliseconds() }()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+dep.addr+"/", nil)
	if err != nil {
		result.Error = err.Error()
		return result
	}
	req.Header.Set(hopsHeader, strconv.Itoa(hops+1))
	res, err := client.Do(req)
	if err != nil {
		result.Error = err.Error()
		return result
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	var hop Hop
	if err := json.Unmarshal(body, &hop); err != nil {
		result.Error = fmt.Sprintf("HTTP %d, not a trace: %.80s", res.StatusCode, body)
		return result
	}
	result.Response = &hop
	if res.StatusCode != http.StatusOK {
		result.Error = fmt.Sprintf("HTTP %d", res.StatusCode)
	}
	return result
}

func callAll(ctx context.Context, deps []dependency, hops int) []Call {
	calls := make([]Call, len(deps))
	var wg sync.WaitGroup
	for i, dep := range deps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			calls[i] = call(ctx, dep, hops)
		}()
	}
	wg.Wait()
	return calls
}

func failed(calls []Call) bool {
	for _, c := range calls {
		if c.Error != "" {
			return true
		}
	}
	return false
}

func answer(w http.ResponseWriter, hop Hop) {
	status := http.StatusOK
	if failed(hop.Calls) {
		status = http.StatusBadGateway
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(hop)
}

// hopsOf is how many hops the request made so far; ok is false past maxHops.
func hopsOf(r *http.Request) (hops int, ok bool) {
	hops, _ = strconv.Atoi(r.Header.Get(hopsHeader))
	return hops, hops < maxHops
}

func handleRoot(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	hop := self()
	if hops, ok := hopsOf(r); ok {
		hop.Calls = callAll(r.Context(), dependencies(), hops)
	}
	answer(w, hop)
}

func handleCall(w http.ResponseWriter, r *http.Request) {
	addr := r.URL.Query().Get("addr")
	if addr == "" {
		http.Error(w, "addr=host:port is required", http.StatusBadRequest)
		return
	}
	hop := self()
	hops, _ := hopsOf(r)
	hop.Calls = []Call{call(r.Context(), dependency{addr: addr, via: "query"}, hops)}
	answer(w, hop)
}

func handleReady(w http.ResponseWriter, _ *http.Request) {
	if _, err := os.Stat("/tmp/unready"); err == nil {
		http.Error(w, "unready (/tmp/unready exists)", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ready")
}

func main() {
	mux := http.NewServeMux()
	mux.HandleFunc("/", handleRoot)
	mux.HandleFunc("/whoami", func(w http.ResponseWriter, _ *http.Request) { answer(w, self()) })
	mux.HandleFunc("/call", handleCall)
	mux.HandleFunc("/apiserver", handleApiserver)
	mux.HandleFunc("/bench", handleBench)
	mux.HandleFunc("/ready", handleReady)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	addr := ":" + env("PORT", "8080")
	log.Printf("%s listening on %s", env("SERVICE_NAME", "unnamed"), addr)
	server := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(server.ListenAndServe())
}
