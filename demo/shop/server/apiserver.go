package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// Identity is what the apiserver behind the `kubernetes` Service says a token stands for.
type Identity struct {
	Apiserver string   `json:"apiserver"`
	User      string   `json:"user,omitempty"`
	Groups    []string `json:"groups,omitempty"`
	Error     string   `json:"error,omitempty"`
}

func tokenFile() string {
	return env("TOKEN_FILE", "/var/run/secrets/kubernetes.io/serviceaccount/token")
}

// apiClient trusts the CA beside the token (ca.crt, as Kubernetes mounts it).
func apiClient() (*http.Client, error) {
	pem, err := os.ReadFile(filepath.Join(filepath.Dir(tokenFile()), "ca.crt"))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no certificate in ca.crt")
	}
	return &http.Client{Timeout: callTimeout, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}, nil
}

// selfSubjectReview asks the apiserver who the token is (any authenticated user may).
func selfSubjectReview(server string) (user string, groups []string, err error) {
	token, err := os.ReadFile(tokenFile())
	if err != nil {
		return "", nil, err
	}
	client, err := apiClient()
	if err != nil {
		return "", nil, err
	}
	body := []byte(`{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}`)
	url := server + "/apis/authentication.k8s.io/v1/selfsubjectreviews"
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return "", nil, err
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	req.Header.Set("Content-Type", "application/json")
	res, err := client.Do(req)
	if err != nil {
		return "", nil, err
	}
	defer res.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode != http.StatusCreated && res.StatusCode != http.StatusOK {
		return "", nil, fmt.Errorf("HTTP %d: %.200s", res.StatusCode, answer)
	}
	var review struct {
		Status struct {
			UserInfo struct {
				Username string   `json:"username"`
				Groups   []string `json:"groups"`
			} `json:"userInfo"`
		} `json:"status"`
	}
	if err := json.Unmarshal(answer, &review); err != nil {
		return "", nil, err
	}
	return review.Status.UserInfo.Username, review.Status.UserInfo.Groups, nil
}

func handleApiserver(w http.ResponseWriter, _ *http.Request) {
	// The `kubernetes` Service, by the variables the kubelet sets, as in-cluster clients find it.
	host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
	identity := Identity{Apiserver: net.JoinHostPort(host, port)}
	user, groups, err := selfSubjectReview("https://" + identity.Apiserver)
	status := http.StatusOK
	if err != nil {
		identity.Error = err.Error()
		status = http.StatusBadGateway
	}
	identity.User, identity.Groups = user, groups
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(identity)
}
