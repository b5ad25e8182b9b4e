package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

const chipCols = `serial, seed_sealed, cert_der, status, person_id, bound_at, last_step, imported_at,
	attempts, attempts_since, last_used_at`

func scanChip(row *sql.Row) (Chip, error) {
	var c Chip
	err := row.Scan(&c.Serial, &c.SealedSeed, &c.CertDER, &c.Status, textCol{&c.PersonID},
		timeCol{&c.BoundAt}, &c.LastStep, timeCol{&c.ImportedAt}, &c.Attempts, timeCol{&c.AttemptsSince}, timeCol{&c.LastUsedAt})
	return c, err
}

// Chip returns the registered chip with the given serial.
func (st *sqlStore) Chip(ctx context.Context, serial string) (Chip, error) {
	c, err := scanChip(st.r.QueryRowContext(ctx, `SELECT `+chipCols+` FROM chips WHERE serial = ?`, serial))
	if err != nil {
		return Chip{}, fmt.Errorf("store: chip %s: %w", serial, notFound(err))
	}
	return c, nil
}

// ActiveChip returns the chip bound to the person now.
func (st *sqlStore) ActiveChip(ctx context.Context, personID string) (Chip, error) {
	c, err := scanChip(st.r.QueryRowContext(ctx, `SELECT `+chipCols+` FROM chips
		WHERE person_id = ? AND status = 'bound'`, personID))
	if err != nil {
		return Chip{}, fmt.Errorf("store: active chip of %s: %w", personID, notFound(err))
	}
	return c, nil
}

const personCols = `person_id, user_id, password_verifier, kdf_salt, kdf_time, kdf_memory_kib, kdf_threads,
	created_at, updated_at`

// personDest is where a row of personCols is scanned into.
func personDest(p *Person) []any {
	return []any{&p.ID, textCol{&p.UserID}, &p.PasswordVerifier, &p.KDF.Salt, &p.KDF.Time, &p.KDF.MemoryKiB,
		&p.KDF.Threads, timeCol{&p.CreatedAt}, timeCol{&p.UpdatedAt}}
}

// Person returns the person with the given id.
func (st *sqlStore) Person(ctx context.Context, id string) (Person, error) {
	var p Person
	err := st.r.QueryRowContext(ctx, `SELECT `+personCols+` FROM persons WHERE person_id = ?`, id).Scan(personDest(&p)...)
	if err != nil {
		return Person{}, fmt.Errorf("store: person %s: %w", id, notFound(err))
	}
	return p, nil
}

// ImportChips registers chips as available, all or none.
func (st *sqlStore) ImportChips(ctx context.Context, chips []ChipImport, at time.Time) (int, error) {
	for i, c := range chips {
		if c.Serial == "" || len(c.SealedSeed) == 0 || len(c.CertDER) == 0 {
			return 0, fmt.Errorf("store: import chips: record %d (serial %q) lacks a serial, sealed seed or certificate", i, c.Serial)
		}
	}
	added := 0
	err := st.inTx(ctx, "import", fmt.Sprintf("%d chips", len(chips)), func(tx *sql.Tx) error {
		added = 0 // afresh if the transaction is retried
		for _, c := range chips {
			// A serial repeated within chips meets its own earlier insert here.
			var cert []byte
			err := tx.QueryRowContext(ctx, `SELECT cert_der FROM chips WHERE serial = ?`, c.Serial).Scan(&cert)
			switch {
			case err == nil:
				// Sealed seeds differ between runs (fresh nonces), so the certificate
				// alone says whether this is the same chip.
				if !bytes.Equal(cert, c.CertDER) {
					return fmt.Errorf("chip %s: %w", c.Serial, ErrImportConflict)
				}
				continue
			case !errors.Is(err, sql.ErrNoRows):
				return fmt.Errorf("chip %s: %w", c.Serial, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO chips (serial, seed_sealed, cert_der, status, imported_at)
				VALUES (?, ?, ?, 'available', ?)`, c.Serial, c.SealedSeed, c.CertDER, nanos(at)); err != nil {
				return fmt.Errorf("chip %s: %w", c.Serial, err)
			}
			added++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return added, nil
}

// RevokeChip marks a chip revoked, keeping its person for history.
func (st *sqlStore) RevokeChip(ctx context.Context, serial string, audit ...AuditEntry) error {
	return st.inTx(ctx, "revoke", "chip "+serial, func(tx *sql.Tx) error {
		found, err := changed(tx.ExecContext(ctx, `UPDATE chips SET status = 'revoked' WHERE serial = ?`, serial))
		if err != nil {
			return err
		}
		if !found {
			return ErrNotFound
		}
		return writeAudit(ctx, tx, audit)
	})
}
