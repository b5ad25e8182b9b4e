package store

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

// sweepRows is the size of the sweep outside testing saw stall every write for
// seconds when done in one transaction.
const sweepRows = 210_000

// BenchmarkSweepStall (make bench) measures what a sweep of sweepRows expired handoff
// records costs the writes that arrive meanwhile: the longest wait of a small
// committed write (the readiness probe) issued back to back during the sweep, and the
// sweep's own duration, in SweepBatch batches and, as the reference in the same run, in one batch (how the
// sweep worked before).
func BenchmarkSweepStall(b *testing.B) {
	batched := sweepStall(b, SweepBatch)
	whole := sweepStall(b, sweepRows)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	line := func(name string, v, ref time.Duration) {
		fmt.Printf("bench: %s %.1f ms (%.3f× one transaction: %.1f ms)\n", name, ms(v), float64(v)/float64(ref), ms(ref))
	}
	line("sweep_longest_write_wait", batched.longest, whole.longest)
	line("sweep_duration", batched.total, whole.total)
	b.ReportMetric(float64(batched.longest.Microseconds())/1000, "longest-wait-ms")
}

type stall struct{ longest, total time.Duration }

func sweepStall(b *testing.B, batch int) stall {
	b.Helper()
	ctx := context.Background()
	st, err := Open(filepath.Join(b.TempDir(), "sweep.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	past := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := st.inTx(ctx, "fill", "used handoffs", func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO used_handoffs (token_id, person_id, used_at, expires_at) VALUES (?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for i := range sweepRows {
			if _, err := stmt.ExecContext(ctx, fmt.Sprintf("tok-%07d", i), fmt.Sprintf("p-%d", i%5000), past.UnixNano(), past.UnixNano()); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}

	var (
		wg    sync.WaitGroup
		done  = make(chan struct{})
		waits []time.Duration
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			start := time.Now()
			if err := st.Probe(ctx); err != nil {
				b.Error(err)
				return
			}
			waits = append(waits, time.Since(start))
		}
	}()
	start := time.Now()
	n, err := st.DeleteExpired(ctx, past.Add(time.Hour), batch)
	total := time.Since(start)
	close(done)
	wg.Wait()
	if err != nil || n != sweepRows {
		b.Fatalf("sweep: expected %d rows, got %d (%v)", sweepRows, n, err)
	}
	if len(waits) == 0 {
		b.Fatal("no write ran during the sweep")
	}
	slices.Sort(waits)
	return stall{longest: waits[len(waits)-1], total: total}
}
