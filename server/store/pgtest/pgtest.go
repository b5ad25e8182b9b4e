// Package pgtest starts a throwaway PostgreSQL cluster for a test binary: initdb into
// a temporary folder, pg_ctl start on a free port, one new database per caller, and
// everything stopped and removed when the tests end. It needs PostgreSQL's server
// programs installed (`make postgres`); it never downloads anything, and a test that
// needs it fails, never skips, when they are missing.
//
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver

	"mitidchip/server/store"
)

// cluster is the one running cluster of this test binary.
type cluster struct {
	dir      string // temporary folder: data, socket, log
	bin      string // folder of initdb, pg_ctl
	port     int
	password string
	asUser   *user.User // the postgres system user when running as root, else nil
	admin    *sql.DB
	// ready has databases made ahead of the tests; failed, why no more come.
	ready  chan string
	failed chan error
	quit   chan struct{}
}

var (
	once     sync.Once
	running  *cluster
	startErr error
	dbs      atomic.Int64
	mainRan  atomic.Bool
)

// Runner is what Main runs: a *testing.M, or something that calls its Run more than
// once (once per store).
type Runner interface{ Run() int }

// Main runs the tests of m and stops the cluster if one was started. Call it from
// TestMain and pass its result to os.Exit.
func Main(m Runner) int {
	mainRan.Store(true)
	code := m.Run()
	if running != nil {
		if err := running.stop(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}

// URL returns the postgres:// URL, password included, of a new database of its own
// in this binary's cluster (started on first use), with the store's schema
// migrated: a copy of a template database migrated once (CREATE DATABASE …
// TEMPLATE), which saves each test the migrations. The test fails when PostgreSQL is
// not installed.
func URL(t testing.TB) string {
	t.Helper()
	c := cluster1(t)
	select {
	case name := <-c.ready:
		return c.url(name)
	case err := <-c.failed:
		c.failed <- err // for the tests after this one
		t.Fatalf("pgtest: %v", err)
	}
	return ""
}

// EmptyURL is URL for a database without the store's schema.
func EmptyURL(t testing.TB) string {
	t.Helper()
	c := cluster1(t)
	name, err := c.create("template0")
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return c.url(name)
}

func cluster1(t testing.TB) *cluster {
	t.Helper()
	if !mainRan.Load() {
		t.Fatal("pgtest: call pgtest.Main from the package's TestMain, so the cluster is stopped after the tests")
	}
	once.Do(func() {
		if running, startErr = start(); startErr == nil {
			startErr = running.prepare()
		}
	})
	if startErr != nil {
		t.Fatalf("pgtest: %v", startErr)
	}
	return running
}

// prepare migrates the template database and starts making copies of it ahead of
// the tests that want them, a few at a time.
func (c *cluster) prepare() error {
	if _, err := c.admin.Exec("CREATE DATABASE " + templateDB); err != nil {
		return fmt.Errorf("create the template database: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := store.OpenPostgres(ctx, c.url(templateDB))
	if err != nil {
		return fmt.Errorf("migrate the template database: %w", err)
	}
	if err := st.Close(); err != nil {
		return err
	}
	c.ready, c.failed, c.quit = make(chan string, 2), make(chan error, 1), make(chan struct{})
	go func() {
		for {
			name, err := c.create(templateDB)
			if err != nil {
				select {
				case c.failed <- err:
				case <-c.quit:
				}
				return
			}
			select {
			case c.ready <- name:
			case <-c.quit:
				return
			}
		}
	}()
	return nil
}

// templateDB is the database every URL's is a copy of.
const templateDB = "store_template"

// create makes a new database as a copy of template.
func (c *cluster) create(template string) (string, error) {
	name := fmt.Sprintf("t%d", dbs.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := c.admin.ExecContext(ctx, "CREATE DATABASE "+name+" TEMPLATE "+template); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	return name, nil
}

func (c *cluster) url(db string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword("postgres", c.password),
		Host: "127.0.0.1:" + strconv.Itoa(c.port), Path: "/" + db, RawQuery: "sslmode=disable"}
	return u.String()
}

// findBin finds the folder of initdb and pg_ctl: on PATH, or Debian's
// /usr/lib/postgresql/<version>/bin, the newest.
func findBin() (string, error) {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			if _, err := os.Stat(filepath.Join(filepath.Dir(real), "initdb")); err == nil {
				return filepath.Dir(real), nil
			}
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		_, e1 := os.Stat(filepath.Join(d, "initdb"))
		_, e2 := os.Stat(filepath.Join(d, "pg_ctl"))
		if e1 == nil && e2 == nil {
			return d, nil
		}
	}
	return "", errors.New("PostgreSQL's initdb and pg_ctl are not installed (not on PATH, not in /usr/lib/postgresql/*/bin): " +
		"run `make postgres` (as root: apt-get install postgresql)")
}

func version(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func start() (*cluster, error) {
	bin, err := findBin()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, err
	}
	pw := make([]byte, 16)
	rand.Read(pw)
	c := &cluster{dir: dir, bin: bin, password: hex.EncodeToString(pw)}
	if err := c.init(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// A free port can be taken between asking and starting; then try another.
	for attempt := 1; ; attempt++ {
		if c.port, err = freePort(); err == nil {
			err = c.startServer()
		}
		if err == nil || attempt == 5 {
			break
		}
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	c.watch()
	c.admin, err = sql.Open("pgx", c.url("postgres"))
	if err == nil {
		err = c.admin.Ping()
	}
	if err != nil {
		c.stop()
		return nil, fmt.Errorf("connect to the test cluster: %w", err)
	}
	return c, nil
}

func (c *cluster) init() error {
	if os.Geteuid() == 0 {
		// PostgreSQL refuses to run as root.
		u, err := user.Lookup("postgres")
		if err != nil {
			return fmt.Errorf("running as root, and there is no postgres system user to run PostgreSQL as (%v): run `make postgres`", err)
		}
		c.asUser = u
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(c.dir, uid, gid); err != nil {
			return err
		}
	}
	if err := os.Chmod(c.dir, 0o700); err != nil {
		return err
	}
	pwfile := filepath.Join(c.dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(c.password+"\n"), 0o600); err != nil {
		return err
	}
	if err := c.chown(pwfile); err != nil {
		return err
	}
	// Local (socket) connections need no password; TCP ones need the random one.
	out, err := c.run("initdb", "-D", filepath.Join(c.dir, "data"), "-U", "postgres", "--pwfile", pwfile,
		"--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-locale", "--no-instructions")
	os.Remove(pwfile)
	if err != nil {
		return fmt.Errorf("initdb: %v\n%s", err, out)
	}
	return nil
}

func (c *cluster) startServer() error {
	// fsync stays on (the default): the tests see the durability production has.
	opts := strings.Join([]string{
		"-p", strconv.Itoa(c.port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=" + c.dir,
		"-c", "max_connections=400",
		"-c", "fsync=on",
	}, " ")
	out, err := c.run("pg_ctl", "-D", filepath.Join(c.dir, "data"), "-l", filepath.Join(c.dir, "log"),
		"-w", "-t", "120", "-o", opts, "start")
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "log"))
		return fmt.Errorf("pg_ctl start on port %d: %v\n%s\n%s", c.port, err, out, log)
	}
	return nil
}

// watch starts a watchdog that stops the cluster and removes its folder once this
// process is gone without doing so itself (a panic, a test timeout, a kill).
func (c *cluster) watch() {
	script := `while [ -d /proc/` + strconv.Itoa(os.Getpid()) + ` ]; do sleep 1; done
[ -d "$1/data" ] || exit 0
"$2/pg_ctl" -D "$1/data" -m immediate -w stop >/dev/null 2>&1
rm -rf "$1"`
	cmd := exec.Command("/bin/sh", "-c", script, "pgtest-watchdog", c.dir, c.bin)
	cmd.Dir = c.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if c.asUser != nil {
		uid, _ := strconv.Atoi(c.asUser.Uid)
		gid, _ := strconv.Atoi(c.asUser.Gid)
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	if cmd.Start() == nil {
		go cmd.Wait() //nolint:errcheck // it outlives the tests unless they end first
	}
}

func (c *cluster) stop() error {
	if c.quit != nil {
		close(c.quit)
	}
	if c.admin != nil {
		c.admin.Close()
	}
	out, err := c.run("pg_ctl", "-D", filepath.Join(c.dir, "data"), "-m", "immediate", "-w", "stop")
	rmErr := os.RemoveAll(c.dir)
	if err != nil {
		return fmt.Errorf("pg_ctl stop: %v\n%s", err, out)
	}
	return rmErr
}

func (c *cluster) chown(path string) error {
	if c.asUser == nil {
		return nil
	}
	uid, _ := strconv.Atoi(c.asUser.Uid)
	gid, _ := strconv.Atoi(c.asUser.Gid)
	return os.Chown(path, uid, gid)
}

// run runs one of PostgreSQL's programs, as the postgres user when root.
func (c *cluster) run(prog string, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(c.bin, prog), args...)
	cmd.Dir = c.dir
	if c.asUser != nil {
		uid, _ := strconv.Atoi(c.asUser.Uid)
		gid, _ := strconv.Atoi(c.asUser.Gid)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
		cmd.Env = append(os.Environ(), "HOME="+c.dir)
	}
	return cmd.CombinedOutput()
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
