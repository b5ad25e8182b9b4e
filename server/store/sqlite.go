package store

import (
	"context"
	"database/sql"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// SQLite is the Store on an SQLite file: the embedded default, needing nothing installed.
type SQLite struct {
	// w is the only connection that writes, so writers in this process queue in
	// database/sql (honouring ctx) instead of meeting SQLITE_BUSY; BEGIN IMMEDIATE and
	// busy_timeout cover writers in other processes, such as the chip import command.
	w *sql.DB
	// r serves single-statement reads, which WAL lets run beside the writer.
	r         *sql.DB
	path      string
	fail      Failpoint
	wantLock  bool
	serveLock *serveLock // held from Open to Close when wantLock
}

var _ Store = (*SQLite)(nil)

// Option configures Open.
type Option func(*SQLite)

// WithFailpoint makes the store call f between the statements of its transactions.
// Only tests set it.
func WithFailpoint(f Failpoint) Option { return func(s *SQLite) { s.fail = f } }

// WithServeLock makes Open claim the database for this process until Close, and fail
// with ErrLocked while another store opened with it holds the same file. The server
// opens its store so; short-lived tools (chips import) do not, and share the file with
// a running server through SQLite's own locking.
func WithServeLock() Option { return func(s *SQLite) { s.wantLock = true } }

// Open opens (creating if needed) the database file at path, which must be a file
// path, brings its schema up to date in one transaction, and commits one probe (see
// Probe), so a store that cannot commit fails here, not at its first request. Such a
// failure wraps ErrReadOnly, ErrDiskFull or ErrLocked and says what to do.
func Open(path string, opts ...Option) (*SQLite, error) {
	if path == "" || strings.Contains(path, "?") {
		return nil, fmt.Errorf("store: open %q: want a plain file path", path)
	}
	s := &SQLite{path: path}
	for _, o := range opts {
		o(s)
	}
	if s.wantLock {
		l, err := lockServe(path)
		if err != nil {
			return nil, fmt.Errorf("store: open %s: %w", path, classify(err, path))
		}
		s.serveLock = l
	}
	if err := s.open(); err != nil {
		s.serveLock.release()
		return nil, err
	}
	return s, nil
}

func (s *SQLite) open() error {
	path := s.path
	// synchronous=FULL: a commit the API has acknowledged survives a power cut.
	const common = "_busy_timeout=5000&_foreign_keys=1"
	w, err := sql.Open("sqlite", path+"?"+common+"&_txlock=immediate&_journal_mode=WAL&_synchronous=FULL")
	if err != nil {
		return fmt.Errorf("store: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	r, err := sql.Open("sqlite", path+"?"+common+"&_query_only=1")
	if err != nil {
		w.Close()
		return fmt.Errorf("store: open %s for reading: %w", path, err)
	}
	r.SetMaxOpenConns(4)
	s.w, s.r = w, r
	ctx := context.Background()
	err = s.migrate(ctx)
	if err == nil {
		// After a crash on a read-only folder the migration above commits nothing
		// and passes; only a write shows the store cannot commit.
		err = s.Probe(ctx)
	}
	if err != nil {
		s.r.Close()
		s.w.Close()
		return fmt.Errorf("store: open %s: %w", path, classify(err, path))
	}
	return nil
}

// Close closes the database and gives up the serve lock, if held.
func (s *SQLite) Close() error {
	return errors.Join(s.r.Close(), s.w.Close(), s.serveLock.release())
}

// Probe commits one tiny write (a counter in the readiness table), so it fails
// exactly when the store cannot commit: a read-only file or folder, a full disk,
// another process holding the write lock. Such errors wrap ErrReadOnly, ErrDiskFull or
// ErrLocked and say what to do. The readiness table is not in Dump: probes change no
// state a test compares.
func (s *SQLite) Probe(ctx context.Context) error {
	err := s.inTx(ctx, "probe", "readiness", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO readiness (id, probes) VALUES (1, 1)
			ON CONFLICT (id) DO UPDATE SET probes = probes + 1`)
		return err
	})
	return classify(err, s.path)
}

// Ping checks that the database answers. It writes nothing, so it passes on a
// read-only or full disk; readiness uses Probe.
func (s *SQLite) Ping(ctx context.Context) error {
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

// migrate applies, in one transaction, every embedded migration the database has not
// recorded. Files are named NNNN_what.sql with numbers rising; a number may be
// missing (branches number their migrations apart and are merged in any order), so
// each file is applied by whether its own number is recorded, not by the highest.
func (s *SQLite) migrate(ctx context.Context) error {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return fmt.Errorf("read migrations: %w", err)
	}
	return s.inTx(ctx, "migrate", "schema", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version INTEGER PRIMARY KEY, name TEXT NOT NULL)`); err != nil {
			return err
		}
		have := map[int]bool{}
		rows, err := tx.QueryContext(ctx, `SELECT version FROM schema_migrations`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var v int
			if err := rows.Scan(&v); err != nil {
				rows.Close()
				return err
			}
			have[v] = true
		}
		if err := rows.Close(); err != nil {
			return err
		}
		known, last := map[int]bool{}, 0
		for _, e := range entries { // ReadDir sorts by name
			num, _, _ := strings.Cut(e.Name(), "_")
			v, err := strconv.Atoi(num)
			if err != nil || v <= last || len(num) != 4 {
				return fmt.Errorf("migration %s: want a four-digit number above %04d", e.Name(), last)
			}
			last, known[v] = v, true
			if have[v] {
				continue
			}
			body, err := migrationFiles.ReadFile("migrations/" + e.Name())
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return fmt.Errorf("migration %s: %w", e.Name(), err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name) VALUES (?, ?)`, v, e.Name()); err != nil {
				return err
			}
		}
		for v := range have {
			if !known[v] {
				return fmt.Errorf("database has schema migration %04d, which this program does not know: it is newer", v)
			}
		}
		return nil
	})
}

// inTx runs fn in a write transaction, rolling back if fn or the failpoint op+"/commit"
// fails. Errors name op and what it was done to.
func (s *SQLite) inTx(ctx context.Context, op, what string, fn func(*sql.Tx) error) error {
	what = op + " " + what
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: %s: begin: %w", what, err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return fmt.Errorf("store: %s: %w", what, err)
	}
	if err := s.hit(op + "/commit"); err != nil {
		tx.Rollback()
		return fmt.Errorf("store: %s: %w", what, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: %s: commit: %w", what, err)
	}
	return nil
}

// hit calls the failpoint, if any, for step.
func (s *SQLite) hit(step string) error {
	if s.fail == nil {
		return nil
	}
	return s.fail(step)
}

// writeAudit appends entries to the audit log inside tx.
func writeAudit(ctx context.Context, tx *sql.Tx, entries []AuditEntry) error {
	for _, e := range entries {
		if e.Event == "" {
			return errors.New("audit entry without an event")
		}
		if e.Detail != "" && !json.Valid([]byte(e.Detail)) {
			return fmt.Errorf("audit entry %q: detail is not JSON", e.Event)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit_log (at, activation_id, person_id, event, detail)
			VALUES (?, ?, ?, ?, ?)`, nanos(e.At), e.ActivationID, e.PersonID, e.Event, e.Detail); err != nil {
			return fmt.Errorf("audit entry %q: %w", e.Event, err)
		}
	}
	return nil
}

// AuditEntries lists an activation's audit trail, oldest first.
func (s *SQLite) AuditEntries(ctx context.Context, activationID string) ([]AuditEntry, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, at, activation_id, person_id, event, detail
		FROM audit_log WHERE activation_id = ? ORDER BY id`, activationID)
	if err != nil {
		return nil, fmt.Errorf("store: audit entries of %s: %w", activationID, err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		if err := rows.Scan(&e.ID, timeCol{&e.At}, &e.ActivationID, &e.PersonID, &e.Event, &e.Detail); err != nil {
			return nil, fmt.Errorf("store: audit entries of %s: %w", activationID, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: audit entries of %s: %w", activationID, err)
	}
	return out, nil
}

// dumpOrder lists every table with the order its rows are dumped in.
var dumpOrder = [][2]string{
	{"persons", "person_id"},
	{"chips", "serial"},
	{"chip_blocks", "serial"},
	{"chip_failures", "serial, person_id"},
	{"activation_sessions", "id"},
	{"used_handoffs", "token_id"},
	{"handovers", "lookup_hash"},
	{"oidc_clients", "client_id"},
	{"oidc_auth_requests", "id"},
	{"oidc_tokens", "id"},
	{"oidc_keys", "kid"},
	{"logon_challenges", "id"},
	{"logon_failures", "user_key"},
	{"logon_sessions", "id"},
	{"staff_roles", "person_id"},
	{"staff_sessions", "logon_session_id"},
	{"assisted_activations", "activation_id"},
	{"audit_log", "id"},
}

// Dump lists every row of every table as "column=value ..." text, bytes in hex. It is
// for tests that prove a failed call changed nothing.
func (s *SQLite) Dump(ctx context.Context) (map[string][]string, error) {
	out := make(map[string][]string, len(dumpOrder))
	for _, t := range dumpOrder {
		rows, err := s.r.QueryContext(ctx, "SELECT * FROM "+t[0]+" ORDER BY "+t[1])
		if err != nil {
			return nil, fmt.Errorf("store: dump %s: %w", t[0], err)
		}
		lines, err := dumpRows(rows)
		if err != nil {
			return nil, fmt.Errorf("store: dump %s: %w", t[0], err)
		}
		out[t[0]] = lines
	}
	return out, nil
}

func dumpRows(rows *sql.Rows) ([]string, error) {
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	lines := []string{}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		var b strings.Builder
		for i, v := range vals {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			switch v := v.(type) {
			case nil:
				fmt.Fprintf(&b, "%s=NULL", cols[i])
			case []byte:
				fmt.Fprintf(&b, "%s=x'%s'", cols[i], hex.EncodeToString(v))
			default:
				fmt.Fprintf(&b, "%s=%q", cols[i], fmt.Sprint(v))
			}
		}
		lines = append(lines, b.String())
	}
	return lines, rows.Err()
}

// nanos is how times are stored: UTC unix nanoseconds, NULL for the zero time.
func nanos(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}

// orNull stores an empty string or byte slice as NULL, where NULL means "not yet".
func orNull[T string | []byte](v T) any {
	if len(v) == 0 {
		return nil
	}
	return v
}

// timeCol scans a nanos column; NULL gives the zero time.
type timeCol struct{ t *time.Time }

func (c timeCol) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*c.t = time.Time{}
	case int64:
		*c.t = time.Unix(0, v).UTC()
	default:
		return fmt.Errorf("time column holds %T", v)
	}
	return nil
}

// textCol scans a nullable text column; NULL gives "".
type textCol struct{ s *string }

func (c textCol) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*c.s = ""
	case string:
		*c.s = v
	case []byte:
		*c.s = string(v)
	default:
		return fmt.Errorf("text column holds %T", v)
	}
	return nil
}

// exists reports whether a row matches query inside tx.
func exists(ctx context.Context, tx *sql.Tx, query string, args ...any) (bool, error) {
	var one int
	err := tx.QueryRowContext(ctx, query, args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// changed reports whether an Exec touched any row.
func changed(res sql.Result, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// notFound turns sql.ErrNoRows into ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	return err
}
