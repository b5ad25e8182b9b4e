package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// SQLite is the Store on an SQLite file: the embedded default, needing nothing installed.
type SQLite struct {
	*sqlStore
	path      string
	wantLock  bool
	serveLock *serveLock // held from Open to Close when wantLock
}

var _ Store = (*SQLite)(nil)

// sqliteDialect: one writer connection, whose BEGIN IMMEDIATE (the _txlock of its
// connection string) takes the file's write lock, so transactions never overlap and
// none needs retrying.
var sqliteDialect = dialect{
	name:        "sqlite",
	migrations:  "migrations/sqlite",
	rowid:       "rowid",
	insertOrder: "rowid",
}

// Option configures Open and OpenPostgres.
type Option func(*options)

type options struct {
	fail     Failpoint
	wantLock bool
}

// WithFailpoint makes the store call f between the statements of its transactions.
// Only tests set it.
func WithFailpoint(f Failpoint) Option { return func(o *options) { o.fail = f } }

// WithServeLock makes Open claim the database for this process until Close, and fail
// with ErrLocked while another store opened with it holds the same file. The server
// opens its SQLite store so; short-lived tools (chips import) do not, and share the
// file with a running server through SQLite's own locking. PostgreSQL is made for
// several servers at once, so OpenPostgres takes no such lock.
func WithServeLock() Option { return func(o *options) { o.wantLock = true } }

// Open opens (creating if needed) the database file at path, which must be a file
// path, brings its schema up to date in one transaction, and commits one probe (see
// Probe), so a store that cannot commit fails here, not at its first request. Such a
// failure wraps ErrReadOnly, ErrDiskFull or ErrLocked and says what to do.
func Open(path string, opts ...Option) (*SQLite, error) {
	if path == "" || strings.Contains(path, "?") {
		return nil, fmt.Errorf("store: open %q: want a plain file path", path)
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	s := &SQLite{sqlStore: &sqlStore{d: sqliteDialect, fail: o.fail}, path: path, wantLock: o.wantLock}
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
	// The only connection that writes, so writers in this process queue in
	// database/sql (honouring ctx) instead of meeting SQLITE_BUSY; BEGIN IMMEDIATE
	// and busy_timeout cover writers in other processes, such as the chip import
	// command.
	w.SetMaxOpenConns(1)
	// Single-statement reads, which WAL lets run beside the writer.
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
		err = s.probe(ctx)
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
	return classify(s.probe(ctx), s.path)
}

// Ping checks that the database answers. It writes nothing, so it passes on a
// read-only or full disk; readiness uses Probe.
func (s *SQLite) Ping(ctx context.Context) error {
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}
