package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Errors of the OpenID Connect provider's store; callers test with errors.Is.
var (
	// ErrClientExists: a client with that id is registered already.
	ErrClientExists = errors.New("client id already registered")
	// ErrNonceUsed: the client's nonce names an authorization request kept already.
	ErrNonceUsed = errors.New("nonce already used by the client")
	// ErrAuthRequestExpired: the authorization request's time ran out.
	ErrAuthRequestExpired = errors.New("authorization request expired")
	// ErrAuthRequestFinished: a logon finished the authorization request already.
	ErrAuthRequestFinished = errors.New("authorization request already finished")
	// ErrAuthRequestOpen: no logon has finished the authorization request yet.
	ErrAuthRequestOpen = errors.New("authorization request not finished")
	// ErrCodeIssued: the authorization request has its code already.
	ErrCodeIssued = errors.New("authorization code already issued")
	// ErrCodeUsed: the authorization code was exchanged before.
	ErrCodeUsed = errors.New("authorization code already used")
	// ErrCodeExpired: the authorization code's time ran out.
	ErrCodeExpired = errors.New("authorization code expired")
)

// OIDCClient is a site registered to log people on through the provider.
type OIDCClient struct {
	ID   string
	Name string
	// SecretHash is the SHA-256 of the client secret; nil for a public client, which
	// authenticates by PKCE alone.
	SecretHash   []byte
	RedirectURIs []string // each matched exactly; none holds a newline
	CreatedAt    time.Time
}

// OIDCAuthRequest is one authorization request, from the authorize endpoint to the
// exchange of its code. Fields after ExpiresAt are filled in as it goes on.
type OIDCAuthRequest struct {
	ID                  string
	ClientID            string
	RedirectURI         string
	Scopes              []string // none holds a space
	State               string
	Nonce               string
	CodeChallenge       string
	CodeChallengeMethod string
	CreatedAt           time.Time
	// ExpiresAt is when the row may be swept; until a code is issued, also when the
	// logon must have finished by.
	ExpiresAt time.Time

	// Set when a logon finishes the request.
	PersonID string
	AuthTime time.Time
	ACR      string
	AMR      []string
	// CallbackHash is the SHA-256 of the one-time handle the browser brings back to
	// the provider's callback after the logon.
	CallbackHash []byte

	// Set when the callback issues the code.
	CodeHash      []byte // SHA-256 of the code
	CodeExpiresAt time.Time
	CodeUsedAt    time.Time // zero until exchanged
}

// Finished reports whether a logon finished the request.
func (r OIDCAuthRequest) Finished() bool { return r.PersonID != "" }

// OIDCFinish is a logon finishing an authorization request.
type OIDCFinish struct {
	ID           string
	PersonID     string
	AuthTime     time.Time
	ACR          string
	AMR          []string
	CallbackHash []byte
	At           time.Time // the caller's now
	Audit        AuditEntry
}

// OIDCToken is an access token given with an ID token; the provider accepts it at
// userinfo until ExpiresAt.
type OIDCToken struct {
	ID            string
	AuthRequestID string
	ClientID      string
	PersonID      string
	Scopes        []string
	CreatedAt     time.Time
	ExpiresAt     time.Time
}

// OIDCKey is an ID token signing key. The signing key is the newest one not retired;
// every key in the store is published (JWKS), so tokens signed by a retired key
// verify until it is removed.
type OIDCKey struct {
	KID           string
	Alg           string // JOSE algorithm, e.g. ES256
	SealedPrivate []byte // the private key (PKCS #8), sealed by the caller
	PublicDER     []byte // the public key (PKIX)
	CreatedAt     time.Time
	RetiredAt     time.Time // zero while it signs
}

// OIDCStore is what the OpenID Connect provider keeps. Times are the caller's.
type OIDCStore interface {
	// AddClient registers c; ErrClientExists if its id is taken.
	AddClient(ctx context.Context, c OIDCClient, audit ...AuditEntry) error
	// OIDCClient returns a client; ErrNotFound if none has the id.
	OIDCClient(ctx context.Context, id string) (OIDCClient, error)
	// OIDCClients lists every client by id.
	OIDCClients(ctx context.Context) ([]OIDCClient, error)
	// RemoveClient removes a client with its authorization requests and tokens, in one
	// transaction; ErrNotFound if none has the id.
	RemoveClient(ctx context.Context, id string, audit ...AuditEntry) error

	// CreateAuthRequest stores a new authorization request (only the fields up to
	// ExpiresAt). Its client must exist (ErrNotFound); a nonce the client used in a
	// request still kept is ErrNonceUsed; an id taken is ErrConflict. Nothing is
	// written on error.
	CreateAuthRequest(ctx context.Context, r OIDCAuthRequest) error
	// AuthRequest returns a request whatever its state; ErrNotFound if none.
	AuthRequest(ctx context.Context, id string) (OIDCAuthRequest, error)
	// FinishAuthRequest records the logon that finishes request f.ID, once and
	// atomically: ErrNotFound if there is none, ErrAuthRequestExpired if f.At is not
	// before its ExpiresAt, ErrAuthRequestFinished if a logon finished it before; then
	// nothing is written. Audit entries without a person get f.PersonID.
	FinishAuthRequest(ctx context.Context, f OIDCFinish) (OIDCAuthRequest, error)
	// CancelAuthRequest ends request id unfinished, as the person cancelled the
	// logon for it: its expiry becomes at (unless it is earlier), so no logon can
	// finish it after, and the row is kept until then for the nonce check and the
	// answer. ErrNotFound if there is none, ErrAuthRequestFinished if a logon finished
	// it (then nothing is written). A request already expired is returned as it is.
	CancelAuthRequest(ctx context.Context, id string, at time.Time, audit ...AuditEntry) (OIDCAuthRequest, error)
	// AuthRequestByCallback finds a finished request by its callback handle's hash;
	// ErrNotFound if none.
	AuthRequestByCallback(ctx context.Context, callbackHash []byte) (OIDCAuthRequest, error)
	// IssueAuthCode gives finished request id its code, once: ErrAuthRequestOpen if
	// no logon finished it, ErrAuthRequestExpired if at is not before its ExpiresAt,
	// ErrCodeIssued if it has a code; ErrNotFound if none. The row is then kept at
	// least until codeExpiresAt.
	IssueAuthCode(ctx context.Context, id string, codeHash []byte, at, codeExpiresAt time.Time) error
	// AuthRequestByCode finds a request by its code's hash, whatever the code's state;
	// ErrNotFound if none.
	AuthRequestByCode(ctx context.Context, codeHash []byte) (OIDCAuthRequest, error)
	// RedeemAuthCode exchanges a code once and atomically: the code must be unused
	// (ErrCodeUsed) and at before its expiry (ErrCodeExpired; ErrNotFound if none);
	// then it is marked used at `at` and tok stored, in one transaction. tok's
	// AuthRequestID, ClientID and PersonID are the request's. Nothing is written on
	// error.
	RedeemAuthCode(ctx context.Context, codeHash []byte, at time.Time, tok OIDCToken, audit ...AuditEntry) error
	// RevokeCodeTokens deletes the tokens given for the code's request (a code used
	// twice: RFC 6749 section 4.1.2) and says how many went.
	RevokeCodeTokens(ctx context.Context, codeHash []byte, audit ...AuditEntry) (int, error)
	// OIDCToken returns an access token whatever its expiry; ErrNotFound if none.
	OIDCToken(ctx context.Context, id string) (OIDCToken, error)
	// RevokeOIDCToken deletes the client's token id; ErrNotFound if the client has none
	// by that id.
	RevokeOIDCToken(ctx context.Context, id, clientID string) error

	// SigningKeys lists every key, newest first.
	SigningKeys(ctx context.Context) ([]OIDCKey, error)
	// AddSigningKey stores k unless a key that is not retired exists already (another
	// instance made one first), and returns the signing key: k or that one.
	AddSigningKey(ctx context.Context, k OIDCKey) (OIDCKey, error)
}

const clientCols = `client_id, name, secret_hash, redirect_uris, created_at`

func scanClient(row interface{ Scan(...any) error }) (OIDCClient, error) {
	var c OIDCClient
	var uris string
	if err := row.Scan(&c.ID, &c.Name, &c.SecretHash, &uris, timeCol{&c.CreatedAt}); err != nil {
		return c, err
	}
	c.RedirectURIs = splitList(uris, "\n")
	return c, nil
}

func splitList(s, sep string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, sep)
}

// AddClient registers c.
func (st *sqlStore) AddClient(ctx context.Context, c OIDCClient, audit ...AuditEntry) error {
	if c.ID == "" || len(c.RedirectURIs) == 0 {
		return errors.New("store: add client: id and a redirect URI are required")
	}
	for _, u := range c.RedirectURIs {
		if u == "" || strings.ContainsAny(u, "\n") {
			return fmt.Errorf("store: add client %s: redirect URI %q is empty or holds a newline", c.ID, u)
		}
	}
	return st.inTx(ctx, "add client", c.ID, func(tx *sql.Tx) error {
		fresh, err := changed(tx.ExecContext(ctx, `INSERT INTO oidc_clients (`+clientCols+`) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (client_id) DO NOTHING`, c.ID, c.Name, orNull(c.SecretHash), strings.Join(c.RedirectURIs, "\n"), nanos(c.CreatedAt)))
		if err != nil {
			return err
		}
		if !fresh {
			return ErrClientExists
		}
		if err := st.hit("client/insert"); err != nil {
			return err
		}
		return writeAudit(ctx, tx, audit)
	})
}

// OIDCClient returns a client.
func (st *sqlStore) OIDCClient(ctx context.Context, id string) (OIDCClient, error) {
	c, err := scanClient(st.r.QueryRowContext(ctx, `SELECT `+clientCols+` FROM oidc_clients WHERE client_id = ?`, id))
	if err != nil {
		return OIDCClient{}, fmt.Errorf("store: client %s: %w", id, notFound(err))
	}
	return c, nil
}

// OIDCClients lists every client by id.
func (st *sqlStore) OIDCClients(ctx context.Context) ([]OIDCClient, error) {
	rows, err := st.r.QueryContext(ctx, `SELECT `+clientCols+` FROM oidc_clients ORDER BY client_id`)
	if err != nil {
		return nil, fmt.Errorf("store: clients: %w", err)
	}
	defer rows.Close()
	var out []OIDCClient
	for rows.Next() {
		c, err := scanClient(rows)
		if err != nil {
			return nil, fmt.Errorf("store: clients: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// RemoveClient removes a client with its requests and tokens.
func (st *sqlStore) RemoveClient(ctx context.Context, id string, audit ...AuditEntry) error {
	return st.inTx(ctx, "remove client", id, func(tx *sql.Tx) error {
		gone, err := changed(tx.ExecContext(ctx, `DELETE FROM oidc_clients WHERE client_id = ?`, id))
		if err != nil {
			return err
		}
		if !gone {
			return ErrNotFound
		}
		for _, t := range []string{"oidc_auth_requests", "oidc_tokens"} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+t+` WHERE client_id = ?`, id); err != nil {
				return fmt.Errorf("%s: %w", t, err)
			}
			if err := st.hit("client/delete " + t); err != nil {
				return err
			}
		}
		return writeAudit(ctx, tx, audit)
	})
}

const authRequestCols = `id, client_id, redirect_uri, scopes, state, nonce, code_challenge, code_challenge_method,
	created_at, expires_at, person_id, auth_time, acr, amr, callback_hash, code_hash, code_expires_at, code_used_at`

func scanAuthRequest(row interface{ Scan(...any) error }) (OIDCAuthRequest, error) {
	var r OIDCAuthRequest
	var scopes, amr string
	err := row.Scan(&r.ID, &r.ClientID, &r.RedirectURI, &scopes, &r.State, &r.Nonce, &r.CodeChallenge, &r.CodeChallengeMethod,
		timeCol{&r.CreatedAt}, timeCol{&r.ExpiresAt}, textCol{&r.PersonID}, timeCol{&r.AuthTime}, textCol{&r.ACR}, textCol{&amr},
		&r.CallbackHash, &r.CodeHash, timeCol{&r.CodeExpiresAt}, timeCol{&r.CodeUsedAt})
	r.Scopes, r.AMR = splitList(scopes, " "), splitList(amr, " ")
	return r, err
}

// CreateAuthRequest stores a new authorization request.
func (st *sqlStore) CreateAuthRequest(ctx context.Context, r OIDCAuthRequest) error {
	if r.ID == "" || r.ClientID == "" || r.RedirectURI == "" || !r.ExpiresAt.After(r.CreatedAt) {
		return fmt.Errorf("store: create authorization request %s: id, client, redirect URI and a later expiry are required", r.ID)
	}
	for _, s := range r.Scopes {
		if s == "" || strings.Contains(s, " ") {
			return fmt.Errorf("store: create authorization request %s: scope %q is empty or holds a space", r.ID, s)
		}
	}
	return st.inTx(ctx, "create authorization request", r.ID, func(tx *sql.Tx) error {
		if ok, err := exists(ctx, tx, `SELECT 1 FROM oidc_clients WHERE client_id = ?`, r.ClientID); err != nil {
			return err
		} else if !ok {
			return fmt.Errorf("client %s: %w", r.ClientID, ErrNotFound)
		}
		if ok, err := exists(ctx, tx, `SELECT 1 FROM oidc_auth_requests WHERE client_id = ? AND nonce = ?`, r.ClientID, r.Nonce); err != nil {
			return err
		} else if ok {
			return ErrNonceUsed
		}
		fresh, err := changed(tx.ExecContext(ctx, `INSERT INTO oidc_auth_requests (id, client_id, redirect_uri, scopes, state, nonce,
			code_challenge, code_challenge_method, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO NOTHING`, r.ID, r.ClientID, r.RedirectURI, strings.Join(r.Scopes, " "), r.State, r.Nonce,
			r.CodeChallenge, r.CodeChallengeMethod, nanos(r.CreatedAt), nanos(r.ExpiresAt)))
		if err != nil {
			return err
		}
		if !fresh {
			return fmt.Errorf("authorization request id taken: %w", ErrConflict)
		}
		return nil
	})
}

// AuthRequest returns a request whatever its state.
func (st *sqlStore) AuthRequest(ctx context.Context, id string) (OIDCAuthRequest, error) {
	r, err := scanAuthRequest(st.r.QueryRowContext(ctx, `SELECT `+authRequestCols+` FROM oidc_auth_requests WHERE id = ?`, id))
	if err != nil {
		return OIDCAuthRequest{}, fmt.Errorf("store: authorization request %s: %w", id, notFound(err))
	}
	return r, nil
}

// FinishAuthRequest records the logon that finishes a request, once.
func (st *sqlStore) FinishAuthRequest(ctx context.Context, f OIDCFinish) (OIDCAuthRequest, error) {
	if f.PersonID == "" || f.AuthTime.IsZero() || len(f.CallbackHash) == 0 {
		return OIDCAuthRequest{}, fmt.Errorf("store: finish authorization request %s: person, auth time and callback hash are required", f.ID)
	}
	var out OIDCAuthRequest
	err := st.inTx(ctx, "finish authorization request", f.ID, func(tx *sql.Tx) error {
		r, err := scanAuthRequest(tx.QueryRowContext(ctx, `SELECT `+authRequestCols+` FROM oidc_auth_requests WHERE id = ?`, f.ID))
		if err != nil {
			return notFound(err)
		}
		switch {
		case r.Finished():
			return ErrAuthRequestFinished
		case !f.At.Before(r.ExpiresAt):
			return fmt.Errorf("expired at %v: %w", r.ExpiresAt, ErrAuthRequestExpired)
		}
		done, err := changed(tx.ExecContext(ctx, `UPDATE oidc_auth_requests SET person_id = ?, auth_time = ?, acr = ?, amr = ?,
			callback_hash = ? WHERE id = ? AND person_id IS NULL`,
			f.PersonID, nanos(f.AuthTime), f.ACR, strings.Join(f.AMR, " "), f.CallbackHash, f.ID))
		if err != nil {
			return err
		}
		if !done {
			return ErrAuthRequestFinished
		}
		if err := st.hit("authrequest/finish"); err != nil {
			return err
		}
		r.PersonID, r.AuthTime, r.ACR, r.AMR, r.CallbackHash = f.PersonID, f.AuthTime, f.ACR, f.AMR, f.CallbackHash
		out = r
		if f.Audit.Event == "" {
			return nil
		}
		if f.Audit.PersonID == "" {
			f.Audit.PersonID = f.PersonID
		}
		return writeAudit(ctx, tx, []AuditEntry{f.Audit})
	})
	if err != nil {
		return OIDCAuthRequest{}, err
	}
	return out, nil
}

// CancelAuthRequest ends a request unfinished.
func (st *sqlStore) CancelAuthRequest(ctx context.Context, id string, at time.Time, audit ...AuditEntry) (OIDCAuthRequest, error) {
	var out OIDCAuthRequest
	err := st.inTx(ctx, "cancel authorization request", id, func(tx *sql.Tx) error {
		r, err := scanAuthRequest(tx.QueryRowContext(ctx, `SELECT `+authRequestCols+` FROM oidc_auth_requests WHERE id = ?`, id))
		if err != nil {
			return notFound(err)
		}
		if r.Finished() {
			return ErrAuthRequestFinished
		}
		out = r
		if !at.Before(r.ExpiresAt) {
			return nil // over already: nothing to end
		}
		done, err := changed(tx.ExecContext(ctx, `UPDATE oidc_auth_requests SET expires_at = ? WHERE id = ? AND person_id IS NULL`,
			nanos(at), id))
		if err != nil {
			return err
		}
		if !done {
			return ErrAuthRequestFinished
		}
		out.ExpiresAt = at
		return writeAudit(ctx, tx, audit)
	})
	if err != nil {
		return OIDCAuthRequest{}, fmt.Errorf("store: %w", err)
	}
	return out, nil
}

// AuthRequestByCallback finds a finished request by its callback handle's hash.
func (st *sqlStore) AuthRequestByCallback(ctx context.Context, callbackHash []byte) (OIDCAuthRequest, error) {
	r, err := scanAuthRequest(st.r.QueryRowContext(ctx, `SELECT `+authRequestCols+` FROM oidc_auth_requests WHERE callback_hash = ?`, callbackHash))
	if err != nil {
		return OIDCAuthRequest{}, fmt.Errorf("store: authorization request by callback: %w", notFound(err))
	}
	return r, nil
}

// IssueAuthCode gives a finished request its code, once.
func (st *sqlStore) IssueAuthCode(ctx context.Context, id string, codeHash []byte, at, codeExpiresAt time.Time) error {
	if len(codeHash) == 0 || !codeExpiresAt.After(at) {
		return fmt.Errorf("store: issue code for %s: a code hash and a later expiry are required", id)
	}
	return st.inTx(ctx, "issue code", "for "+id, func(tx *sql.Tx) error {
		r, err := scanAuthRequest(tx.QueryRowContext(ctx, `SELECT `+authRequestCols+` FROM oidc_auth_requests WHERE id = ?`, id))
		if err != nil {
			return notFound(err)
		}
		switch {
		case !r.Finished():
			return ErrAuthRequestOpen
		case r.CodeHash != nil:
			return ErrCodeIssued
		case !at.Before(r.ExpiresAt):
			return fmt.Errorf("expired at %v: %w", r.ExpiresAt, ErrAuthRequestExpired)
		}
		keep := r.ExpiresAt
		if codeExpiresAt.After(keep) {
			keep = codeExpiresAt
		}
		done, err := changed(tx.ExecContext(ctx, `UPDATE oidc_auth_requests SET code_hash = ?, code_expires_at = ?, expires_at = ?
			WHERE id = ? AND code_hash IS NULL`, codeHash, nanos(codeExpiresAt), nanos(keep), id))
		if err != nil {
			return err
		}
		if !done {
			return ErrCodeIssued
		}
		return nil
	})
}

// AuthRequestByCode finds a request by its code's hash.
func (st *sqlStore) AuthRequestByCode(ctx context.Context, codeHash []byte) (OIDCAuthRequest, error) {
	r, err := scanAuthRequest(st.r.QueryRowContext(ctx, `SELECT `+authRequestCols+` FROM oidc_auth_requests WHERE code_hash = ?`, codeHash))
	if err != nil {
		return OIDCAuthRequest{}, fmt.Errorf("store: authorization request by code: %w", notFound(err))
	}
	return r, nil
}

// RedeemAuthCode exchanges a code once.
func (st *sqlStore) RedeemAuthCode(ctx context.Context, codeHash []byte, at time.Time, tok OIDCToken, audit ...AuditEntry) error {
	if len(codeHash) == 0 || tok.ID == "" || !tok.ExpiresAt.After(tok.CreatedAt) {
		return errors.New("store: redeem code: a code hash, a token id and a later token expiry are required")
	}
	return st.inTx(ctx, "redeem code", "for token "+tok.ID, func(tx *sql.Tx) error {
		r, err := scanAuthRequest(tx.QueryRowContext(ctx, `SELECT `+authRequestCols+` FROM oidc_auth_requests WHERE code_hash = ?`, codeHash))
		if err != nil {
			return notFound(err)
		}
		switch {
		case !r.CodeUsedAt.IsZero():
			return fmt.Errorf("code of %s used at %v: %w", r.ID, r.CodeUsedAt, ErrCodeUsed)
		case !at.Before(r.CodeExpiresAt):
			return fmt.Errorf("code of %s expired at %v: %w", r.ID, r.CodeExpiresAt, ErrCodeExpired)
		}
		used, err := changed(tx.ExecContext(ctx, `UPDATE oidc_auth_requests SET code_used_at = ? WHERE id = ? AND code_used_at IS NULL`,
			nanos(at), r.ID))
		if err != nil {
			return err
		}
		if !used {
			return fmt.Errorf("code of %s: %w", r.ID, ErrCodeUsed)
		}
		if err := st.hit("code/used"); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO oidc_tokens (id, auth_request_id, client_id, person_id, scopes, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, tok.ID, r.ID, r.ClientID, r.PersonID, strings.Join(r.Scopes, " "),
			nanos(tok.CreatedAt), nanos(tok.ExpiresAt)); err != nil {
			return fmt.Errorf("token: %w", err)
		}
		for i := range audit {
			if audit[i].PersonID == "" {
				audit[i].PersonID = r.PersonID
			}
		}
		return writeAudit(ctx, tx, audit)
	})
}

// RevokeCodeTokens deletes the tokens given for the code's request.
func (st *sqlStore) RevokeCodeTokens(ctx context.Context, codeHash []byte, audit ...AuditEntry) (int, error) {
	var n int64
	err := st.inTx(ctx, "revoke tokens", "of a code", func(tx *sql.Tx) error {
		r, err := scanAuthRequest(tx.QueryRowContext(ctx, `SELECT `+authRequestCols+` FROM oidc_auth_requests WHERE code_hash = ?`, codeHash))
		if err != nil {
			return notFound(err)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM oidc_tokens WHERE auth_request_id = ?`, r.ID)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		for i := range audit {
			if audit[i].PersonID == "" {
				audit[i].PersonID = r.PersonID
			}
		}
		return writeAudit(ctx, tx, audit)
	})
	return int(n), err
}

// OIDCToken returns an access token whatever its expiry.
func (st *sqlStore) OIDCToken(ctx context.Context, id string) (OIDCToken, error) {
	var t OIDCToken
	var scopes string
	err := st.r.QueryRowContext(ctx, `SELECT id, auth_request_id, client_id, person_id, scopes, created_at, expires_at
		FROM oidc_tokens WHERE id = ?`, id).Scan(&t.ID, &t.AuthRequestID, &t.ClientID, &t.PersonID, &scopes,
		timeCol{&t.CreatedAt}, timeCol{&t.ExpiresAt})
	if err != nil {
		return OIDCToken{}, fmt.Errorf("store: token: %w", notFound(err))
	}
	t.Scopes = splitList(scopes, " ")
	return t, nil
}

// RevokeOIDCToken deletes the client's token id.
func (st *sqlStore) RevokeOIDCToken(ctx context.Context, id, clientID string) error {
	return st.inTx(ctx, "revoke token", "of "+clientID, func(tx *sql.Tx) error {
		gone, err := changed(tx.ExecContext(ctx, `DELETE FROM oidc_tokens WHERE id = ? AND client_id = ?`, id, clientID))
		if err != nil {
			return err
		}
		if !gone {
			return ErrNotFound
		}
		return nil
	})
}

const keyCols = `kid, alg, sealed_private, public_der, created_at, retired_at`

func scanKey(row interface{ Scan(...any) error }) (OIDCKey, error) {
	var k OIDCKey
	err := row.Scan(&k.KID, &k.Alg, &k.SealedPrivate, &k.PublicDER, timeCol{&k.CreatedAt}, timeCol{&k.RetiredAt})
	return k, err
}

// SigningKeys lists every key, newest first.
func (st *sqlStore) SigningKeys(ctx context.Context) ([]OIDCKey, error) {
	rows, err := st.r.QueryContext(ctx, `SELECT `+keyCols+` FROM oidc_keys ORDER BY created_at DESC, kid`)
	if err != nil {
		return nil, fmt.Errorf("store: signing keys: %w", err)
	}
	defer rows.Close()
	var out []OIDCKey
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("store: signing keys: %w", err)
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// AddSigningKey stores k unless a key that signs exists, and returns the signing key.
func (st *sqlStore) AddSigningKey(ctx context.Context, k OIDCKey) (OIDCKey, error) {
	if k.KID == "" || k.Alg == "" || len(k.SealedPrivate) == 0 || len(k.PublicDER) == 0 || !k.RetiredAt.IsZero() {
		return OIDCKey{}, errors.New("store: add signing key: kid, alg and both halves are required, and it must not be retired")
	}
	out := k
	err := st.inTx(ctx, "add signing key", k.KID, func(tx *sql.Tx) error {
		cur, err := scanKey(tx.QueryRowContext(ctx, `SELECT `+keyCols+` FROM oidc_keys WHERE retired_at IS NULL
			ORDER BY created_at DESC, kid LIMIT 1`))
		if err == nil {
			out = cur
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO oidc_keys (`+keyCols+`) VALUES (?, ?, ?, ?, ?, NULL)`,
			k.KID, k.Alg, k.SealedPrivate, k.PublicDER, nanos(k.CreatedAt))
		return err
	})
	if err != nil {
		return OIDCKey{}, err
	}
	return out, nil
}
