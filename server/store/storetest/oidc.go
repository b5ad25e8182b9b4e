package storetest

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mitidchip/server/store"
)

func oidcClient(id string) store.OIDCClient {
	return store.OIDCClient{ID: id, Name: "Site " + id, SecretHash: hashOf("secret-" + id),
		RedirectURIs: []string{"https://" + id + ".example/cb", "http://127.0.0.1:9/cb"}, CreatedAt: t0}
}

func authRequest(id, client, nonce string) store.OIDCAuthRequest {
	return store.OIDCAuthRequest{ID: id, ClientID: client, RedirectURI: "https://" + client + ".example/cb",
		Scopes: []string{"openid"}, State: "state-" + id, Nonce: nonce, CodeChallenge: "challenge-" + id,
		CodeChallengeMethod: "S256", CreatedAt: t0, ExpiresAt: t0.Add(10 * time.Minute)}
}

func finish(id, person string, at time.Time) store.OIDCFinish {
	return store.OIDCFinish{ID: id, PersonID: person, AuthTime: at, ACR: "urn:acr", AMR: []string{"pwd", "hwk", "mfa"},
		CallbackHash: hashOf("callback-" + id), At: at, Audit: store.AuditEntry{At: at, Event: "oidc_logon", Detail: "{}"}}
}

func token(id string, at time.Time) store.OIDCToken {
	return store.OIDCToken{ID: id, CreatedAt: at, ExpiresAt: at.Add(5 * time.Minute)}
}

// oidcReady is a client c with request id finished by person p and its code issued.
func (e env) oidcReady(client, id, person string) store.OIDCAuthRequest {
	e.t.Helper()
	if _, err := e.st.OIDCClient(e.ctx, client); errors.Is(err, store.ErrNotFound) {
		if err := e.st.AddClient(e.ctx, oidcClient(client)); err != nil {
			e.t.Fatal(err)
		}
	}
	if err := e.st.CreateAuthRequest(e.ctx, authRequest(id, client, "nonce-"+id)); err != nil {
		e.t.Fatalf("create %s: %v", id, err)
	}
	if _, err := e.st.FinishAuthRequest(e.ctx, finish(id, person, t0.Add(time.Minute))); err != nil {
		e.t.Fatalf("finish %s: %v", id, err)
	}
	if err := e.st.IssueAuthCode(e.ctx, id, hashOf("code-"+id), t0.Add(time.Minute), t0.Add(2*time.Minute)); err != nil {
		e.t.Fatalf("issue code for %s: %v", id, err)
	}
	r, err := e.st.AuthRequest(e.ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// testOIDCClients: a client is added once, listed, found; removing it takes its
// requests and tokens along; refusals change nothing.
func testOIDCClients(t *testing.T, open Opener) {
	e := newEnv(t, open, nil)
	c := oidcClient("site-a")
	if err := e.st.AddClient(e.ctx, c, store.AuditEntry{At: t0, Event: "operator_client_added", Detail: "{}"}); err != nil {
		t.Fatal(err)
	}
	pub := oidcClient("site-b")
	pub.SecretHash = nil
	if err := e.st.AddClient(e.ctx, pub); err != nil {
		t.Fatal(err)
	}
	before := Snapshot(t, e.st)
	if err := e.st.AddClient(e.ctx, oidcClient("site-a")); !errors.Is(err, store.ErrClientExists) {
		t.Errorf("the same id twice: expected %v, got %v", store.ErrClientExists, err)
	}
	AssertUnchanged(t, e.st, before)
	got, err := e.st.OIDCClient(e.ctx, "site-a")
	if err != nil {
		t.Fatal(err)
	}
	same(t, "client", c, got)
	if _, err := e.st.OIDCClient(e.ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown client: expected %v, got %v", store.ErrNotFound, err)
	}
	list, err := e.st.OIDCClients(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "clients", []store.OIDCClient{c, pub}, list)

	e.oidcReady("site-a", "req-1", "p1")
	if err := e.st.RedeemAuthCode(e.ctx, hashOf("code-req-1"), t0.Add(time.Minute), token("tok-1", t0.Add(time.Minute))); err != nil {
		t.Fatal(err)
	}
	e.oidcReady("site-b", "req-2", "p1")
	if err := e.st.RemoveClient(e.ctx, "site-a"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.AuthRequest(e.ctx, "req-1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a removed client's request: expected %v, got %v", store.ErrNotFound, err)
	}
	if _, err := e.st.OIDCToken(e.ctx, "tok-1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a removed client's token: expected %v, got %v", store.ErrNotFound, err)
	}
	if _, err := e.st.AuthRequest(e.ctx, "req-2"); err != nil {
		t.Errorf("another client's request after a removal: %v", err)
	}
	before = Snapshot(t, e.st)
	if err := e.st.RemoveClient(e.ctx, "site-a"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("removing twice: expected %v, got %v", store.ErrNotFound, err)
	}
	AssertUnchanged(t, e.st, before)
}

// testOIDCAuthRequests: a request is finished once, before its expiry; its code is
// issued once, after the logon; a nonce names one request of its client.
func testOIDCAuthRequests(t *testing.T, open Opener) {
	e := newEnv(t, open, nil)
	if err := e.st.AddClient(e.ctx, oidcClient("site-a")); err != nil {
		t.Fatal(err)
	}
	r := authRequest("req-1", "site-a", "n-1")
	if err := e.st.CreateAuthRequest(e.ctx, r); err != nil {
		t.Fatal(err)
	}
	got, err := e.st.AuthRequest(e.ctx, "req-1")
	if err != nil {
		t.Fatal(err)
	}
	same(t, "request", r, got)

	before := Snapshot(t, e.st)
	for _, c := range []struct {
		name string
		r    store.OIDCAuthRequest
		want error
	}{
		{"nonce used again", authRequest("req-2", "site-a", "n-1"), store.ErrNonceUsed},
		{"unknown client", authRequest("req-3", "nobody", "n-3"), store.ErrNotFound},
		{"id taken", authRequest("req-1", "site-a", "n-4"), store.ErrConflict},
	} {
		if err := e.st.CreateAuthRequest(e.ctx, c.r); !errors.Is(err, c.want) {
			t.Errorf("%s: expected %v, got %v", c.name, c.want, err)
		}
	}
	if err := e.st.IssueAuthCode(e.ctx, "req-1", hashOf("c"), t0, t0.Add(time.Minute)); !errors.Is(err, store.ErrAuthRequestOpen) {
		t.Errorf("a code before the logon: expected %v, got %v", store.ErrAuthRequestOpen, err)
	}
	if _, err := e.st.FinishAuthRequest(e.ctx, finish("req-1", "p1", t0.Add(10*time.Minute))); !errors.Is(err, store.ErrAuthRequestExpired) {
		t.Errorf("finish at the expiry: expected %v, got %v", store.ErrAuthRequestExpired, err)
	}
	if _, err := e.st.FinishAuthRequest(e.ctx, finish("req-9", "p1", t0)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("finish an unknown request: expected %v, got %v", store.ErrNotFound, err)
	}
	AssertUnchanged(t, e.st, before)

	at := t0.Add(time.Minute)
	f := finish("req-1", "p1", at)
	done, err := e.st.FinishAuthRequest(e.ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	want := r
	want.PersonID, want.AuthTime, want.ACR, want.AMR, want.CallbackHash = "p1", at, f.ACR, f.AMR, f.CallbackHash
	same(t, "finished request", want, done)
	if byCB, err := e.st.AuthRequestByCallback(e.ctx, f.CallbackHash); err != nil || byCB.ID != "req-1" {
		t.Errorf("by callback: expected req-1, got %+v (%v)", byCB, err)
	}
	if entries, err := e.st.AuditEntries(e.ctx, ""); err != nil || len(entries) != 1 || entries[0].PersonID != "p1" {
		t.Errorf("audit of the finish: expected one entry for p1, got %+v (%v)", entries, err)
	}
	before = Snapshot(t, e.st)
	if _, err := e.st.FinishAuthRequest(e.ctx, finish("req-1", "p2", at)); !errors.Is(err, store.ErrAuthRequestFinished) {
		t.Errorf("finish twice: expected %v, got %v", store.ErrAuthRequestFinished, err)
	}
	AssertUnchanged(t, e.st, before)

	// The code may outlive the request's own expiry: the row is kept until it ends.
	codeEnd := t0.Add(10*time.Minute + 30*time.Second)
	if err := e.st.IssueAuthCode(e.ctx, "req-1", hashOf("code"), t0.Add(10*time.Minute-time.Second), codeEnd); err != nil {
		t.Fatal(err)
	}
	before = Snapshot(t, e.st)
	if err := e.st.IssueAuthCode(e.ctx, "req-1", hashOf("code-2"), at, at.Add(time.Minute)); !errors.Is(err, store.ErrCodeIssued) {
		t.Errorf("a second code: expected %v, got %v", store.ErrCodeIssued, err)
	}
	AssertUnchanged(t, e.st, before)
	byCode, err := e.st.AuthRequestByCode(e.ctx, hashOf("code"))
	if err != nil {
		t.Fatal(err)
	}
	if !byCode.ExpiresAt.Equal(codeEnd) || !byCode.CodeExpiresAt.Equal(codeEnd) {
		t.Errorf("kept until the code ends: expected %v, got %v and %v", codeEnd, byCode.ExpiresAt, byCode.CodeExpiresAt)
	}
}

// testOIDCCancel: a cancelled request ends at once and can no longer be finished; a
// finished or unknown one is refused and nothing changes.
func testOIDCCancel(t *testing.T, open Opener) {
	e := newEnv(t, open, nil)
	if err := e.st.AddClient(e.ctx, oidcClient("site-a")); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"req-1", "req-2"} {
		if err := e.st.CreateAuthRequest(e.ctx, authRequest(id, "site-a", "n-"+id)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.st.FinishAuthRequest(e.ctx, finish("req-2", "p1", t0.Add(time.Minute))); err != nil {
		t.Fatal(err)
	}
	before := Snapshot(t, e.st)
	if _, err := e.st.CancelAuthRequest(e.ctx, "req-2", t0.Add(2*time.Minute)); !errors.Is(err, store.ErrAuthRequestFinished) {
		t.Errorf("cancel a finished request: expected %v, got %v", store.ErrAuthRequestFinished, err)
	}
	if _, err := e.st.CancelAuthRequest(e.ctx, "req-9", t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("cancel an unknown request: expected %v, got %v", store.ErrNotFound, err)
	}
	AssertUnchanged(t, e.st, before)

	at := t0.Add(2 * time.Minute)
	r, err := e.st.CancelAuthRequest(e.ctx, "req-1", at, store.AuditEntry{At: at, Event: "oidc_logon_cancelled", Detail: "{}"})
	if err != nil || r.State != "state-req-1" || r.RedirectURI != "https://site-a.example/cb" || !r.ExpiresAt.Equal(at) {
		t.Fatalf("cancel: expected the request ending at %v, got %+v (%v)", at, r, err)
	}
	if _, err := e.st.FinishAuthRequest(e.ctx, finish("req-1", "p1", at)); !errors.Is(err, store.ErrAuthRequestExpired) {
		t.Errorf("finish a cancelled request: expected %v, got %v", store.ErrAuthRequestExpired, err)
	}
	// Cancelled again (a second click): the same answer, nothing more written.
	before = Snapshot(t, e.st)
	if again, err := e.st.CancelAuthRequest(e.ctx, "req-1", at.Add(time.Second)); err != nil || !again.ExpiresAt.Equal(at) {
		t.Errorf("cancel twice: expected the request as it was, got %+v (%v)", again, err)
	}
	AssertUnchanged(t, e.st, before)
	if entries, err := e.st.AuditEntries(e.ctx, ""); err != nil || len(entries) != 2 || entries[1].Event != "oidc_logon_cancelled" {
		t.Errorf("audit: expected the finish and the cancel, got %+v (%v)", entries, err)
	}
}

// testOIDCCodes: a code is exchanged once, before its expiry, with its token stored
// in the same transaction; a code used twice can revoke the tokens it gave.
func testOIDCCodes(t *testing.T, open Opener) {
	tr := &trap{}
	e := newEnv(t, open, tr.hook)
	r := e.oidcReady("site-a", "req-1", "p1")
	at := t0.Add(90 * time.Second)

	before := Snapshot(t, e.st)
	if err := e.st.RedeemAuthCode(e.ctx, hashOf("code-req-1"), r.CodeExpiresAt, token("tok-x", at)); !errors.Is(err, store.ErrCodeExpired) {
		t.Errorf("at the code's expiry: expected %v, got %v", store.ErrCodeExpired, err)
	}
	if err := e.st.RedeemAuthCode(e.ctx, hashOf("no such code"), at, token("tok-x", at)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown code: expected %v, got %v", store.ErrNotFound, err)
	}
	tr.arm("code/used")
	if err := e.st.RedeemAuthCode(e.ctx, hashOf("code-req-1"), at, token("tok-x", at)); !errors.Is(err, errInjected) {
		t.Errorf("failure mid-way: expected %v, got %v", errInjected, err)
	}
	tr.disarm()
	AssertUnchanged(t, e.st, before)

	audit := store.AuditEntry{At: at, Event: "oidc_code_redeemed", Detail: "{}"}
	if err := e.st.RedeemAuthCode(e.ctx, hashOf("code-req-1"), at, token("tok-1", at), audit); err != nil {
		t.Fatal(err)
	}
	tok, err := e.st.OIDCToken(e.ctx, "tok-1")
	if err != nil {
		t.Fatal(err)
	}
	same(t, "token", store.OIDCToken{ID: "tok-1", AuthRequestID: "req-1", ClientID: "site-a", PersonID: "p1",
		Scopes: []string{"openid"}, CreatedAt: at, ExpiresAt: at.Add(5 * time.Minute)}, tok)
	before = Snapshot(t, e.st)
	if err := e.st.RedeemAuthCode(e.ctx, hashOf("code-req-1"), at, token("tok-2", at)); !errors.Is(err, store.ErrCodeUsed) {
		t.Errorf("code used twice: expected %v, got %v", store.ErrCodeUsed, err)
	}
	AssertUnchanged(t, e.st, before)
	if n, err := e.st.RevokeCodeTokens(e.ctx, hashOf("code-req-1")); err != nil || n != 1 {
		t.Errorf("revoke the code's tokens: expected 1, got %d (%v)", n, err)
	}
	if _, err := e.st.OIDCToken(e.ctx, "tok-1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a revoked token: expected %v, got %v", store.ErrNotFound, err)
	}

	// Tokens: revoked by their own client only; swept with the requests after expiry.
	e.oidcReady("site-a", "req-2", "p2")
	if err := e.st.RedeemAuthCode(e.ctx, hashOf("code-req-2"), at, token("tok-3", at)); err != nil {
		t.Fatal(err)
	}
	if err := e.st.RevokeOIDCToken(e.ctx, "tok-3", "site-b"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another client revoking: expected %v, got %v", store.ErrNotFound, err)
	}
	n, err := e.st.DeleteExpired(e.ctx, t0.Add(11*time.Minute), 100)
	if err != nil || n != 3 { // two requests and one token
		t.Errorf("sweep: expected 3 rows, got %d (%v)", n, err)
	}
	rows := Snapshot(t, e.st)
	if len(rows["oidc_auth_requests"]) != 0 || len(rows["oidc_tokens"]) != 0 || len(rows["oidc_clients"]) != 1 {
		t.Errorf("after the sweep: expected only the client, got %v", rows)
	}
}

// testOIDCCodeRace: of concurrent exchanges of one code exactly one wins.
func testOIDCCodeRace(t *testing.T, open Opener) {
	e := newEnv(t, open, nil)
	e.oidcReady("site-a", "req-1", "p1")
	at := t0.Add(90 * time.Second)
	const n = 8
	var wins, used atomic.Int32
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			err := e.st.RedeemAuthCode(e.ctx, hashOf("code-req-1"), at, token("tok-"+string(rune('a'+i)), at))
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, store.ErrCodeUsed):
				used.Add(1)
			default:
				t.Errorf("exchange %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 || used.Load() != n-1 {
		t.Errorf("expected 1 exchange and %d refusals, got %d and %d", n-1, wins.Load(), used.Load())
	}
	if rows := Snapshot(t, e.st)["oidc_tokens"]; len(rows) != 1 {
		t.Errorf("expected one token, got %v", rows)
	}
}

// testOIDCKeys: the first key stored signs; a second instance's key is not stored
// while it does.
func testOIDCKeys(t *testing.T, open Opener) {
	e := newEnv(t, open, nil)
	if keys, err := e.st.SigningKeys(e.ctx); err != nil || len(keys) != 0 {
		t.Fatalf("a new store's keys: expected none, got %v (%v)", keys, err)
	}
	k1 := store.OIDCKey{KID: "k1", Alg: "ES256", SealedPrivate: []byte("sealed-1"), PublicDER: []byte("pub-1"), CreatedAt: t0}
	got, err := e.st.AddSigningKey(e.ctx, k1)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "first key", k1, got)
	k2 := store.OIDCKey{KID: "k2", Alg: "ES256", SealedPrivate: []byte("sealed-2"), PublicDER: []byte("pub-2"), CreatedAt: t0.Add(time.Second)}
	if got, err = e.st.AddSigningKey(e.ctx, k2); err != nil {
		t.Fatal(err)
	}
	same(t, "key of a second instance", k1, got)
	keys, err := e.st.SigningKeys(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "keys", []store.OIDCKey{k1}, keys)
}
