package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// Postgres is the Store on a PostgreSQL database, for several server instances at
// once: everything they must share is in it.
type Postgres struct {
	*sqlStore
	where string // the URL without its password, for messages
}

var _ Store = (*Postgres)(nil)

// postgresDialect: write transactions are SERIALIZABLE, so PostgreSQL lets them
// commit only as if one ran after the other, as SQLite's single writer runs them;
// one that lost a race fails with a serialization failure and is run again
// (sqlStore.runTx). The migration holds an advisory lock for its transaction.
var postgresDialect = dialect{
	name:        "postgres",
	migrations:  "migrations/postgres",
	txOptions:   &sql.TxOptions{Isolation: sql.LevelSerializable},
	migrateLock: "SELECT pg_advisory_xact_lock(" + strconv.Itoa(migrateLockKey) + ")",
	retryable:   pgRetryable,
	rowid:       "ctid",
	insertOrder: "seq",
}

// migrateLockKey is the advisory lock every instance's migration takes: "mitidchp"
// in ASCII, so it meets no other program's lock by chance.
const migrateLockKey = 0x6d697469_64636870

// DefaultPostgresConns is how many connections one instance keeps to PostgreSQL at
// most, unless the URL says otherwise (pool_max_conns).
const DefaultPostgresConns = 16

// OpenPostgres connects to the database at dsn (postgres://user:password@host/db…),
// brings its schema up to date (waiting for an instance that migrates at the same
// time) and commits one probe. Of opts only WithFailpoint applies. The URL may set
// pool_max_conns (default DefaultPostgresConns); its password is never in an error.
func OpenPostgres(ctx context.Context, dsn string, opts ...Option) (*Postgres, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	where := redact(dsn)
	dsn, maxConns, err := poolSize(dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open PostgreSQL at %s: %w", where, err)
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open PostgreSQL at %s: the URL: %w", where, errors.New(redactIn(err.Error(), dsn)))
	}
	db := sql.OpenDB(rebindConnector{stdlib.GetConnector(*cfg)})
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	p := &Postgres{sqlStore: &sqlStore{w: db, r: db, d: postgresDialect, fail: o.fail}, where: where}
	err = db.PingContext(ctx)
	if err == nil {
		err = p.migrate(ctx)
	}
	if err == nil {
		err = p.probe(ctx)
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open PostgreSQL at %s: %w", where, classifyPG(err))
	}
	return p, nil
}

// Close closes the pool.
func (p *Postgres) Close() error { return p.w.Close() }

// Probe commits one tiny write (see SQLite.Probe); a database in read-only mode (a
// standby, default_transaction_read_only) wraps ErrReadOnly, a full disk ErrDiskFull.
func (p *Postgres) Probe(ctx context.Context) error { return classifyPG(p.probe(ctx)) }

// Ping checks that the database answers.
func (p *Postgres) Ping(ctx context.Context) error {
	if err := p.w.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping PostgreSQL at %s: %w", p.where, err)
	}
	return nil
}

// pgRetryable: a serialization failure or a deadlock, after which PostgreSQL says
// to run the transaction again.
func pgRetryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// classifyPG wraps ErrReadOnly, ErrDiskFull or ErrLocked around an error whose cause
// an operator must fix, saying what to do.
func classifyPG(err error) error {
	var pe *pgconn.PgError
	if err == nil || !errors.As(err, &pe) {
		return err
	}
	switch {
	case pe.Code == "25006":
		return fmt.Errorf("%w: the PostgreSQL server takes no writes (a standby, or default_transaction_read_only): "+
			"point DATABASE_URL at the primary: %w", ErrReadOnly, err)
	case pe.Code == "53100":
		return fmt.Errorf("%w: the PostgreSQL server's disk is full: free space there: %w", ErrDiskFull, err)
	case pe.Code == "55P03":
		return fmt.Errorf("%w: a lock in PostgreSQL was not granted: %w", ErrLocked, err)
	}
	return err
}

// redact is dsn without its password, for messages.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		return "(a DATABASE_URL that is not a postgres:// URL)"
	}
	u.RawQuery = ""
	return u.Redacted()
}

// redactIn removes dsn's password from msg.
func redactIn(msg, dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			msg = strings.ReplaceAll(msg, pw, "xxxxx")
		}
	}
	return msg
}

// poolSize takes pool_max_conns out of dsn's query, as pgx.ParseConfig knows it only
// for pgxpool.
func poolSize(dsn string) (string, int, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", 0, errors.New("the URL does not parse; want postgres://user:password@host:port/database")
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return "", 0, fmt.Errorf("scheme %q: want postgres://", u.Scheme)
	}
	q := u.Query()
	n := DefaultPostgresConns
	if v := q.Get("pool_max_conns"); v != "" {
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			return "", 0, fmt.Errorf("pool_max_conns=%q: want a number from 1", v)
		}
		q.Del("pool_max_conns")
		u.RawQuery = q.Encode()
	}
	return u.String(), n, nil
}

// rebindConnector gives database/sql pgx connections that take the shared SQL's ?
// placeholders, rewritten to PostgreSQL's $1, $2… before pgx sees the statement.
type rebindConnector struct{ driver.Connector }

// pgxConn is what pgx's stdlib connection does and rebindConn passes on.
type pgxConn interface {
	driver.Conn
	driver.ConnPrepareContext
	driver.ConnBeginTx
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.NamedValueChecker
	driver.SessionResetter
}

func (c rebindConnector) Connect(ctx context.Context) (driver.Conn, error) {
	cn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	pc, ok := cn.(pgxConn)
	if !ok {
		cn.Close()
		return nil, fmt.Errorf("store: the pgx connection (%T) lacks a database/sql interface", cn)
	}
	return rebindConn{pc}, nil
}

type rebindConn struct{ pgxConn }

func (c rebindConn) Prepare(query string) (driver.Stmt, error) {
	return c.pgxConn.Prepare(rebind(query))
}

func (c rebindConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.pgxConn.PrepareContext(ctx, rebind(query))
}

func (c rebindConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if len(args) > 0 { // without arguments pgx runs the text as it is (migrations, with comments)
		query = rebind(query)
	}
	return c.pgxConn.ExecContext(ctx, query, args)
}

func (c rebindConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if len(args) > 0 {
		query = rebind(query)
	}
	return c.pgxConn.QueryContext(ctx, query, args)
}

var rebound sync.Map // query → its rewriting; the store's queries are a fixed few hundred

// rebind rewrites each ? outside quotes and comments to $1, $2, … in order.
func rebind(query string) string {
	if q, ok := rebound.Load(query); ok {
		return q.(string)
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		ch := query[i]
		switch {
		case ch == '\'' || ch == '"':
			end := len(query) // an unclosed quote runs to the end
			if j := strings.IndexByte(query[i+1:], ch); j >= 0 {
				end = i + 1 + j + 1
			}
			b.WriteString(query[i:end])
			i = end - 1
			continue
		case ch == '-' && i+1 < len(query) && query[i+1] == '-':
			j := strings.IndexByte(query[i:], '\n')
			if j < 0 {
				j = len(query) - i
			}
			b.WriteString(query[i : i+j])
			i += j - 1
			continue
		case ch == '?':
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteByte(ch)
	}
	out := b.String()
	rebound.Store(query, out)
	return out
}
