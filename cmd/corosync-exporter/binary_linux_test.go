package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"golang.org/x/crypto/bcrypt"

	"github.com/corosync-go/corosync/internal/netns"
	"github.com/corosync-go/corosync/internal/testkit/corotest"
)

// buildExporter builds the exporter as a static binary (CGO_ENABLED=0, as
// make dist does) into a fresh directory and returns its path.
func buildExporter(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	bin := filepath.Join(dir, "corosync-exporter")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build: %v: %s", err, out)
	}
	return bin
}

// nsClient is an HTTP client whose sockets are made in the network
// namespace at path.
func nsClient(path string, tlsConf *tls.Config) *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   tlsConf,
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (c net.Conn, err error) {
			err = netns.Do(path, func() error {
				var d net.Dialer
				c, err = d.DialContext(ctx, network, addr)
				return err
			})
			return c, err
		},
	}}
}

// process is a command run by a test, stopped when the test ends.
type process struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	stderr bytes.Buffer
	done   chan struct{}
}

func (p *process) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.Write(b)
}

// Log returns what the process wrote on stdout and stderr so far.
func (p *process) Log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// startProcess starts name args with stdout and stderr collected; it is
// stopped (SIGTERM, then SIGKILL after 5 s) when the test ends.
func startProcess(t testing.TB, name string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(name, args...), done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p, p
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.stop() })
	return p
}

// stop ends the process (SIGTERM, SIGKILL after 5 s) and waits for it.
func (p *process) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key
// into dir and returns a pool that trusts it.
func selfSigned(t *testing.T, dir string) *x509.CertPool {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "corosync-exporter test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	must(t, err)
	kb, err := x509.MarshalECPrivateKey(key)
	must(t, err)
	writeFile(t, filepath.Join(dir, "exporter.crt"), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	writeFile(t, filepath.Join(dir, "exporter.key"), string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})))
	cert, err := x509.ParseCertificate(der)
	must(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool
}

// get fetches url with optional basic auth and returns the status and body.
func get(c *http.Client, url, user, pass string) (int, string, error) {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return 0, "", err
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// waitScrape fetches url until the body holds every one of want.
func waitScrape(t *testing.T, c *http.Client, url, user, pass string, p *process, want ...string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body, err := get(c, url, user, pass)
		ok := err == nil && code == 200
		for _, w := range want {
			ok = ok && strings.Contains(body, w)
		}
		if ok {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d %v\n%s\nexporter log:\n%s", url, code, err, body, p.Log())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// seriesOf parses an exposition and returns, per ha_cluster_* metric, its
// series as sorted "name{labels}" strings (values left out).
func seriesOf(t *testing.T, body string) map[string][]string {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("exposition: %v", err)
	}
	out := map[string][]string{}
	for name, f := range fams {
		if !strings.HasPrefix(name, "ha_cluster_") {
			continue
		}
		for _, m := range f.Metric {
			var ls []string
			for _, l := range m.Label {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			sort.Strings(ls)
			out[name] = append(out[name], strings.Join(ls, ","))
		}
		sort.Strings(out[name])
	}
	return out
}

// TestDropIn runs the binary exactly as ha_cluster_exporter's systemd unit
// runs theirs, with only the binary's path changed: its
// ha_cluster_exporter.service has "ExecStart=/usr/bin/ha_cluster_exporter
// $ARGS" and ha_cluster_exporter.sysconfig sets ARGS empty: no arguments;
// the settings come from /etc/ha_cluster_exporter.yaml (their sample file,
// theirSampleConfig) and TLS and basic auth from
// /etc/ha_cluster_exporter.web.yaml (their main.go:89-92, 345-356). The
// test's /etc is a directory of its own, bound over /etc in a private
// mount namespace inside node 1's network namespace (and ./ and
// $HOME/.config/, searched first, hold no configuration). The exporter serves
// every ha_cluster_exporter corosync metric (TestCompatibleMetricNames'
// list) over TLS only, to the bcrypt user only, and logs the files in
// force.
func TestDropIn(t *testing.T) {
	cl := corotest.Start(t, 1, corotest.Options{})
	n := cl.Node(1)
	bin := buildExporter(t)
	etc := t.TempDir()
	pool := selfSigned(t, etc)
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret pass"), bcrypt.MinCost)
	must(t, err)
	writeFile(t, filepath.Join(etc, "ha_cluster_exporter.yaml"), theirSampleConfig)
	writeFile(t, filepath.Join(etc, "ha_cluster_exporter.web.yaml"), fmt.Sprintf(
		"tls_server_config:\n  cert_file: /etc/exporter.crt\n  key_file: /etc/exporter.key\nbasic_auth_users:\n  prometheus: %s\n", hash))
	p := startProcess(t, "ip", "netns", "exec", n.NS, "unshare", "-m", "--propagation", "private",
		"sh", "-c", `mount --bind "$0" /etc && cd / && HOME=/nonexistent exec "$1"`, etc, bin)

	c := nsClient(n.NetNSPath(), &tls.Config{RootCAs: pool})
	url := "https://127.0.0.1:9664/metrics"
	body := waitScrape(t, c, url, "prometheus", "s3cret pass", p, "\ncorosync_up 1\n", "ha_cluster_corosync_quorate 1")
	got := seriesOf(t, body)
	for _, m := range haClusterExporterMetrics {
		if len(got[m.name]) == 0 {
			t.Errorf("%s not served", m.name)
			continue
		}
		for _, s := range got[m.name] {
			var names []string
			for _, kv := range strings.Split(s, ",") {
				if k, _, _ := strings.Cut(kv, "="); k != "" {
					names = append(names, k)
				}
			}
			want := append([]string(nil), m.labels...)
			if m.consts != "" {
				want = append(want, "collector")
			}
			sort.Strings(want)
			if strings.Join(names, ",") != strings.Join(want, ",") {
				t.Errorf("%s{%s}: labels %v, want %v", m.name, s, names, want)
			}
		}
	}
	if want := []string{"local=true,node=node1,node_id=1"}; strings.Join(got["ha_cluster_corosync_member_votes"], ";") != strings.Join(want, ";") {
		t.Errorf("member_votes %v, want %v", got["ha_cluster_corosync_member_votes"], want)
	}
	for _, c := range []struct{ user, pass string }{{"", ""}, {"prometheus", "wrong"}, {"other", "s3cret pass"}} {
		if code, _, err := get(nsClient(n.NetNSPath(), &tls.Config{RootCAs: pool}), url, c.user, c.pass); err != nil || code != http.StatusUnauthorized {
			t.Errorf("user %q password %q: %d %v, want 401", c.user, c.pass, code, err)
		}
	}
	if code, _, err := get(nsClient(n.NetNSPath(), nil), "http://127.0.0.1:9664/metrics", "prometheus", "s3cret pass"); err == nil && code == 200 {
		t.Error("plain HTTP served metrics")
	}
	// The server's own error lines are in the log's format too.
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(p.Log(), `level=WARN msg="http: TLS handshake error`); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the refused plain HTTP request is not logged as a warning:\n%s", p.Log())
		}
	}
	log := p.Log()
	for _, w := range []string{
		`msg="using config file" file=/etc/ha_cluster_exporter.yaml`,
		`msg="using web config file" file=/etc/ha_cluster_exporter.web.yaml`,
		"TLS is enabled",
		`settings=crm-mon-path,cibadmin-path,corosync-cfgtoolpath-path,corosync-quorumtool-path,sbd-path,sbd-config-path,drbdsetup-path,port`,
		`keys=addres`,
	} {
		if !strings.Contains(log, w) {
			t.Errorf("log lacks %q:\n%s", w, log)
		}
	}
	if strings.Count(log, "ignoring ha_cluster_exporter settings") != 1 {
		t.Errorf("the ignored settings are not one notice line:\n%s", log)
	}
	p.stop()
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit %d after SIGINT:\n%s", code, log)
	}

	// Without the web file (none in this /etc) and with --log.format=json
	// on the command line over the file's logfmt: plain HTTP, JSON lines,
	// and the missing default named.
	must(t, os.Remove(filepath.Join(etc, "ha_cluster_exporter.web.yaml")))
	p = startProcess(t, "ip", "netns", "exec", n.NS, "unshare", "-m", "--propagation", "private",
		"sh", "-c", `mount --bind "$0" /etc && cd / && HOME=/nonexistent exec "$1" --log.format=json --web.listen-address=127.0.0.1:9665`, etc, bin)
	waitScrape(t, nsClient(n.NetNSPath(), nil), "http://127.0.0.1:9665/metrics", "", "", p, "\ncorosync_up 1\n")
	p.stop()
	lines := strings.Split(strings.TrimSpace(p.Log()), "\n")
	for _, l := range lines {
		if !strings.HasPrefix(l, "{") || !strings.HasSuffix(l, "}") {
			t.Errorf("not a JSON line: %q", l)
		}
	}
	if log := p.Log(); !strings.Contains(log, `"msg":"no web config file: plain HTTP, no authentication","missing":"/etc/ha_cluster_exporter.web.yaml"`) {
		t.Errorf("the missing default web config is not logged:\n%s", log)
	}
}
