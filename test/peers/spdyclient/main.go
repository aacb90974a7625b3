// spdyclient drives a kubelet API server with client-go's own SPDY clients, the code
// kube-apiserver and kubectl use towards kubelets: remotecommand.NewSPDYExecutor for exec and
// attach, and portforward over spdy.RoundTripperFor for port forwarding.
//
// Usage:
//
//	spdyclient exec -url https://127.0.0.1:10250/exec/ns/pod/c?command=sh&... \
//		-ca ca.pem -cert c.pem -key k.pem [-stdin] [-tty]
//		[-protocol v4.channel.k8s.io] [-token T]
//	spdyclient portforward -url https://127.0.0.1:10250/portForward/ns/pod -port 80 -bytes 10485760 [-conns 3]
//
// exec copies its stdin/stdout/stderr to the remote command's and exits with the remote exit
// code (125 for other errors); with -tty it reports one terminal size, 100x40; with -websocket
// it uses client-go's WebSocket executor instead of SPDY. portforward opens -conns connections to a local listener
// forwarded to -port, sends -bytes of a pattern on each while reading the echo back, checks
// every byte and prints one line of JSON with what it saw.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/spdy"
	"k8s.io/client-go/util/exec"
)

type common struct {
	url, ca, cert, key, token string
	protocols                 string
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.url, "url", "", "full kubelet URL")
	fs.StringVar(&c.ca, "ca", "", "CA file for the server certificate")
	fs.StringVar(&c.cert, "cert", "", "client certificate file")
	fs.StringVar(&c.key, "key", "", "client key file")
	fs.StringVar(&c.token, "token", "", "bearer token")
}

func (c *common) restConfig() *rest.Config {
	u, err := url.Parse(c.url)
	if err != nil {
		fail(err)
	}
	return &rest.Config{
		Host:        u.Scheme + "://" + u.Host,
		BearerToken: c.token,
		TLSClientConfig: rest.TLSClientConfig{
			CAFile:   c.ca,
			CertFile: c.cert,
			KeyFile:  c.key,
		},
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "spdyclient:", err)
	os.Exit(125)
}

func main() {
	if len(os.Args) < 2 {
		fail(errors.New("usage: spdyclient exec|portforward [flags]"))
	}
	switch os.Args[1] {
	case "exec":
		runExec(os.Args[2:])
	case "portforward":
		runPortForward(os.Args[2:])
	default:
		fail(fmt.Errorf("unknown command %q", os.Args[1]))
	}
}

func runExec(args []string) {
	fs := flag.NewFlagSet("exec", flag.ExitOnError)
	var c common
	c.register(fs)
	stdin := fs.Bool("stdin", false, "send our stdin")
	tty := fs.Bool("tty", false, "allocate a tty")
	protocol := fs.String("protocol", "", "offer only this remotecommand protocol (default: v5..v1)")
	websocket := fs.Bool("websocket", false, "use client-go's WebSocket executor (GET, v5 unless -protocol)")
	fs.Parse(args)
	u, err := url.Parse(c.url)
	if err != nil {
		fail(err)
	}
	cfg := c.restConfig()
	transport, upgrader, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		fail(err)
	}
	var executor remotecommand.Executor
	switch {
	case *websocket && *protocol != "":
		executor, err = remotecommand.NewWebSocketExecutorForProtocols(cfg, http.MethodGet, c.url, *protocol)
	case *websocket:
		executor, err = remotecommand.NewWebSocketExecutor(cfg, http.MethodGet, c.url)
	case *protocol != "":
		executor, err = remotecommand.NewSPDYExecutorForProtocols(transport, upgrader, http.MethodPost, u, *protocol)
	default:
		executor, err = remotecommand.NewSPDYExecutorForTransports(transport, upgrader, http.MethodPost, u)
	}
	if err != nil {
		fail(err)
	}
	opts := remotecommand.StreamOptions{Stdout: os.Stdout, Tty: *tty}
	if *tty {
		opts.TerminalSizeQueue = &oneSize{size: &remotecommand.TerminalSize{Width: 100, Height: 40}}
	} else {
		opts.Stderr = os.Stderr
	}
	if *stdin {
		opts.Stdin = os.Stdin
	}
	err = executor.StreamWithContext(context.Background(), opts)
	var exitErr exec.CodeExitError
	switch {
	case err == nil:
		os.Exit(0)
	case errors.As(err, &exitErr):
		os.Exit(exitErr.Code)
	default:
		fail(err)
	}
}

// oneSize reports one terminal size, then blocks until the session ends (nil ends resizing).
type oneSize struct{ size *remotecommand.TerminalSize }

func (q *oneSize) Next() *remotecommand.TerminalSize {
	size := q.size
	q.size = nil
	if size == nil {
		select {}
	}
	return size
}

type connResult struct {
	Sent     int    `json:"sent"`
	Received int    `json:"received"`
	Match    bool   `json:"match"`
	Error    string `json:"error,omitempty"`
}

func runPortForward(args []string) {
	fs := flag.NewFlagSet("portforward", flag.ExitOnError)
	var c common
	c.register(fs)
	port := fs.Int("port", 80, "remote port")
	size := fs.Int("bytes", 1<<20, "bytes to send on each connection")
	conns := fs.Int("conns", 1, "concurrent connections")
	fs.Parse(args)
	u, err := url.Parse(c.url)
	if err != nil {
		fail(err)
	}
	transport, upgrader, err := spdy.RoundTripperFor(c.restConfig())
	if err != nil {
		fail(err)
	}
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, u)
	stop, ready := make(chan struct{}), make(chan struct{})
	var log bytes.Buffer
	ports := []string{fmt.Sprintf("0:%d", *port)}
	fw, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, ports, stop, ready, &log, &log)
	if err != nil {
		fail(err)
	}
	done := make(chan error, 1)
	go func() { done <- fw.ForwardPorts() }()
	select {
	case <-ready:
	case err := <-done:
		fail(fmt.Errorf("port-forward ended before ready: %v (%s)", err, log.String()))
	case <-time.After(30 * time.Second):
		fail(errors.New("port-forward not ready after 30s"))
	}
	forwarded, err := fw.GetPorts()
	if err != nil {
		fail(err)
	}
	local := fmt.Sprintf("127.0.0.1:%d", forwarded[0].Local)
	results := make([]connResult, *conns)
	var wg sync.WaitGroup
	for i := range results {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			results[i] = echoOnce(local, *size, byte(i))
		}(i)
	}
	wg.Wait()
	close(stop)
	<-done
	json.NewEncoder(os.Stdout).Encode(results)
}

// echoOnce sends size bytes of a pattern while reading them back, then half-closes.
func echoOnce(addr string, size int, seed byte) connResult {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return connResult{Error: err.Error()}
	}
	defer conn.Close()
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = byte(i*7) ^ seed
	}
	writeErr := make(chan error, 1)
	go func() {
		_, err := conn.Write(payload)
		writeErr <- err
	}()
	got := make([]byte, 0, size)
	buf := make([]byte, 64<<10)
	conn.SetReadDeadline(time.Now().Add(60 * time.Second))
	for len(got) < size {
		n, err := conn.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			if err != io.EOF {
				return connResult{Sent: size, Received: len(got), Error: err.Error()}
			}
			break
		}
	}
	res := connResult{Sent: size, Received: len(got), Match: bytes.Equal(got, payload)}
	if err := <-writeErr; err != nil {
		res.Error = err.Error()
	}
	return res
}
