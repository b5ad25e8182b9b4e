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
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// Both stores are this one implementation over database/sql (docs/decisions.md,
// "One store implementation, two dialects"): the SQL is written once, with ?
// placeholders, in the subset SQLite and PostgreSQL share; a dialect holds the few
// things that differ.

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFiles embed.FS

// dialect is what differs between the databases behind sqlStore.
type dialect struct {
	name string
	// migrations is the folder of migrationFiles with this dialect's files.
	migrations string
	// txOptions begin every write transaction but the migration's.
	txOptions *sql.TxOptions
	// migrateLock, if set, is run first in the migration's transaction, so that
	// instances starting at once migrate one after the other.
	migrateLock string
	// retryable says whether a transaction that failed so may be run again from
	// the start (a serialization failure or deadlock).
	retryable func(error) bool
	// rowid names a row for a batched DELETE; insertOrder orders handovers made in
	// the same nanosecond as they were made.
	rowid, insertOrder string
}

// sqlStore is the Store on a database/sql database; SQLite and Postgres are it with
// their dialect, opening and closing.
type sqlStore struct {
	// w runs write transactions; r serves single-statement reads (on SQLite a
	// separate read-only pool beside the one writer; on PostgreSQL the same pool).
	w, r *sql.DB
	d    dialect
	fail Failpoint
}

// maxTxAttempts bounds how often a transaction is begun again after a serialization
// failure; each wait before another attempt is random and grows, so contenders
// spread out.
const maxTxAttempts = 30

// migrate applies, in one transaction, every embedded migration the database has not
// recorded. Files are named NNNN_what.sql with numbers rising; a number may be
// missing (branches number their migrations apart and are merged in any order), so
// each file is applied by whether its own number is recorded, not by the highest.
func (s *sqlStore) migrate(ctx context.Context) error {
	entries, err := fs.ReadDir(migrationFiles, s.d.migrations)
	if err != nil {
		return fmt.Errorf("read migrations: %w", err)
	}
	// Read committed on PostgreSQL: each statement after the lock sees what an
	// instance that migrated first committed while this one waited.
	return s.runTx(ctx, "migrate", "schema", &sql.TxOptions{Isolation: sql.LevelReadCommitted}, func(tx *sql.Tx) error {
		if s.d.migrateLock != "" {
			if _, err := tx.ExecContext(ctx, s.d.migrateLock); err != nil {
				return fmt.Errorf("wait for other instances' migrations: %w", err)
			}
		}
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
			body, err := migrationFiles.ReadFile(s.d.migrations + "/" + e.Name())
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
func (s *sqlStore) inTx(ctx context.Context, op, what string, fn func(*sql.Tx) error) error {
	return s.runTx(ctx, op, what, s.d.txOptions, fn)
}

// runTx is inTx with the transaction's options. A transaction the dialect says may
// be retried (PostgreSQL's serialization failures) is run again from the start, fn
// included, so fn must set what it returns through its closure afresh each time.
func (s *sqlStore) runTx(ctx context.Context, op, what string, opts *sql.TxOptions, fn func(*sql.Tx) error) error {
	what = op + " " + what
	for attempt := 1; ; attempt++ {
		err := s.tryTx(ctx, op, opts, fn)
		if err == nil {
			return nil
		}
		if s.d.retryable == nil || !s.d.retryable(err) || attempt == maxTxAttempts {
			if attempt > 1 {
				return fmt.Errorf("store: %s (attempt %d): %w", what, attempt, err)
			}
			return fmt.Errorf("store: %s: %w", what, err)
		}
		// Up to 1 ms times the attempt, at random, so that contenders part.
		wait := time.Duration(rand.Int64N(int64(attempt) * int64(time.Millisecond)))
		select {
		case <-ctx.Done():
			return fmt.Errorf("store: %s: %w (after %v)", what, ctx.Err(), err)
		case <-time.After(wait):
		}
	}
}

func (s *sqlStore) tryTx(ctx context.Context, op string, opts *sql.TxOptions, fn func(*sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := s.hit(op + "/commit"); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// probe commits one tiny write: the readiness table's counter (see Probe).
func (s *sqlStore) probe(ctx context.Context) error {
	return s.inTx(ctx, "probe", "readiness", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO readiness (id, probes) VALUES (1, 1)
			ON CONFLICT (id) DO UPDATE SET probes = readiness.probes + 1`)
		return err
	})
}

// hit calls the failpoint, if any, for step.
func (s *sqlStore) hit(step string) error {
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
func (s *sqlStore) AuditEntries(ctx context.Context, activationID string) ([]AuditEntry, error) {
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
func (s *sqlStore) Dump(ctx context.Context) (map[string][]string, error) {
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
