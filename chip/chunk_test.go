package chip

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

// testBytes returns n bytes that differ from chunk to chunk, so a chunk put in the
// wrong place would change the result.
func testBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/ChunkData)
	}
	return b
}

func mustSplit(t testing.TB, frame []byte) [][]byte {
	t.Helper()
	chunks, err := Split(frame)
	if err != nil {
		t.Fatalf("Split(%d bytes): %v", len(frame), err)
	}
	return chunks
}

// feed adds chunks in order and returns the frames completed and the first error.
func feed(r *Reassembler, chunks [][]byte) (frames [][]byte, err error) {
	for _, c := range chunks {
		f, err := r.Add(c)
		if err != nil {
			return frames, err
		}
		if f != nil {
			frames = append(frames, f)
		}
	}
	return frames, nil
}

var chunkSizes = []int{1, ChunkData, ChunkData + 1, 2 * ChunkData, 2*ChunkData + 1, MaxFrame}

func TestChunkRoundTrip(t *testing.T) {
	for _, n := range chunkSizes {
		t.Run(fmt.Sprintf("%d bytes", n), func(t *testing.T) {
			frame := testBytes(n)
			chunks := mustSplit(t, frame)
			if want := (n + ChunkData - 1) / ChunkData; len(chunks) != want {
				t.Fatalf("chunk count: expected %d, got %d", want, len(chunks))
			}
			for i, c := range chunks {
				if len(c) > ChunkSize {
					t.Errorf("chunk %d: expected at most %d bytes, got %d", i, ChunkSize, len(c))
				}
				if int(c[0]) != i || int(c[1]) != len(chunks) {
					t.Errorf("chunk %d header: expected (%d, %d), got (%d, %d)", i, i, len(chunks), c[0], c[1])
				}
			}
			var r Reassembler
			for i, c := range chunks {
				got, err := r.Add(c)
				if err != nil {
					t.Fatalf("Add chunk %d: %v", i, err)
				}
				last := i == len(chunks)-1
				if (got != nil) != last {
					t.Fatalf("Add chunk %d of %d: frame returned = %v", i, len(chunks), got != nil)
				}
				if last && !bytes.Equal(got, frame) {
					t.Fatalf("reassembled frame: expected %x, got %x", frame, got)
				}
				if r.Pending() == last {
					t.Fatalf("Pending after chunk %d of %d: expected %v", i, len(chunks), !last)
				}
			}
		})
	}
}

func TestSplitRejects(t *testing.T) {
	if c, err := Split(nil); !errors.Is(err, ErrTruncated) {
		t.Errorf("Split(nil): expected ErrTruncated, got %v (%d chunks)", err, len(c))
	}
	if c, err := Split(make([]byte, MaxFrame+1)); !errors.Is(err, ErrOversized) {
		t.Errorf("Split(MaxFrame+1): expected ErrOversized, got %v (%d chunks)", err, len(c))
	}
}

// TestChunkFaults drops, repeats and swaps chunks of frames of several sizes and checks
// that each fault is reported, never turned into a wrong frame.
func TestChunkFaults(t *testing.T) {
	type fault struct {
		name  string
		apply func([][]byte) [][]byte
		// lastLost marks the one fault the reassembler cannot see: the frame never
		// ends, Pending stays true, and the link's timeout has to say so.
		lastLost bool
	}
	for _, n := range chunkSizes {
		frame := testBytes(n)
		chunks := mustSplit(t, frame)
		var faults []fault
		for i := range chunks {
			faults = append(faults, fault{
				name: fmt.Sprintf("drop %d", i),
				apply: func(c [][]byte) [][]byte {
					return append(append([][]byte{}, c[:i]...), c[i+1:]...)
				},
				lastLost: i == len(chunks)-1,
			}, fault{
				name: fmt.Sprintf("repeat %d", i),
				apply: func(c [][]byte) [][]byte {
					return append(append(append([][]byte{}, c[:i+1]...), c[i]), c[i+1:]...)
				},
			})
			if i+1 < len(chunks) {
				faults = append(faults, fault{
					name: fmt.Sprintf("swap %d and %d", i, i+1),
					apply: func(c [][]byte) [][]byte {
						out := append([][]byte{}, c...)
						out[i], out[i+1] = out[i+1], out[i]
						return out
					},
				})
			}
		}
		for _, ft := range faults {
			t.Run(fmt.Sprintf("%d bytes %s", n, ft.name), func(t *testing.T) {
				var r Reassembler
				frames, err := feed(&r, ft.apply(chunks))
				for _, f := range frames {
					// Repeating the only chunk of a one-chunk frame is indistinguishable
					// from sending the frame twice; the link drops an answer to no request.
					if !bytes.Equal(f, frame) {
						t.Fatalf("wrong frame: expected %x, got %x", frame, f)
					}
				}
				switch {
				case ft.lastLost:
					if err != nil || len(frames) != 0 {
						t.Fatalf("last chunk lost: expected no frame and no error, got %d frames, %v", len(frames), err)
					}
					if len(chunks) > 1 && !r.Pending() {
						t.Fatalf("last chunk lost: expected Pending, got idle")
					}
				case len(chunks) == 1 && len(frames) == 2 && err == nil:
					// See above: two good copies of a one-chunk frame.
				case err == nil:
					t.Fatalf("expected ErrChunkLost or ErrChunkDuplicate, got %d frames and no error", len(frames))
				case !errors.Is(err, ErrChunkLost) && !errors.Is(err, ErrChunkDuplicate):
					t.Fatalf("expected ErrChunkLost or ErrChunkDuplicate, got %v", err)
				}
				if err != nil && r.Pending() {
					t.Errorf("after %v: expected idle, got Pending", err)
				}
			})
		}
	}
}

// TestChunkFaultErrors pins which error each fault gives, for a three-chunk frame.
func TestChunkFaultErrors(t *testing.T) {
	c := mustSplit(t, testBytes(3*ChunkData))
	tests := []struct {
		name   string
		chunks [][]byte
		want   error
	}{
		{"first lost", [][]byte{c[1], c[2]}, ErrChunkLost},
		{"middle lost", [][]byte{c[0], c[2]}, ErrChunkLost},
		{"first repeated", [][]byte{c[0], c[0]}, ErrChunkDuplicate},
		{"middle repeated", [][]byte{c[0], c[1], c[1]}, ErrChunkDuplicate},
		{"swapped", [][]byte{c[0], c[2], c[1]}, ErrChunkLost},
		{"starts mid-frame", [][]byte{c[2]}, ErrChunkLost},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Reassembler
			if frames, err := feed(&r, tt.chunks); !errors.Is(err, tt.want) || len(frames) != 0 {
				t.Errorf("expected %v and no frame, got %v and %d frames", tt.want, err, len(frames))
			}
		})
	}
}

// TestChunkLastLostIsPending documents the one fault left to the link: with the last
// chunk lost the reassembler cannot know the frame is over, so it stays Pending and
// the link's per-request timeout ends the wait. Reset then clears it.
func TestChunkLastLostIsPending(t *testing.T) {
	frame := testBytes(2*ChunkData + 1)
	chunks := mustSplit(t, frame)
	var r Reassembler
	frames, err := feed(&r, chunks[:len(chunks)-1])
	if err != nil || len(frames) != 0 {
		t.Fatalf("expected no frame and no error, got %d frames, %v", len(frames), err)
	}
	if !r.Pending() {
		t.Fatal("Pending: expected true while the last chunk is missing, got false")
	}
	r.Reset()
	if r.Pending() {
		t.Fatal("Pending after Reset: expected false, got true")
	}
	frames, err = feed(&r, chunks)
	if err != nil || len(frames) != 1 || !bytes.Equal(frames[0], frame) {
		t.Fatalf("after Reset: expected the frame back, got %d frames, %v", len(frames), err)
	}
}

// TestChunkRecovers: after any error the next frame is reassembled from its first chunk.
func TestChunkRecovers(t *testing.T) {
	old := mustSplit(t, testBytes(3*ChunkData))
	next := testBytes(2*ChunkData + 5)
	for _, tt := range []struct {
		name string
		bad  [][]byte
	}{
		{"after lost", [][]byte{old[0], old[2]}},
		{"after duplicate", [][]byte{old[0], old[0]}},
		{"after malformed", [][]byte{old[0], {1}}},
		{"after count change", [][]byte{old[0], {1, 9, 0}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var r Reassembler
			if _, err := feed(&r, tt.bad); err == nil {
				t.Fatal("expected an error from the bad chunks, got none")
			}
			if r.Pending() {
				t.Fatal("Pending after an error: expected false, got true")
			}
			frames, err := feed(&r, mustSplit(t, next))
			if err != nil || len(frames) != 1 || !bytes.Equal(frames[0], next) {
				t.Fatalf("next frame: expected it back, got %d frames, %v", len(frames), err)
			}
		})
	}
}

func TestChunkMalformed(t *testing.T) {
	full := append([]byte{0, 3}, make([]byte, ChunkData)...)
	tests := []struct {
		name   string
		before [][]byte // accepted chunks that come first
		c      []byte
		want   error
	}{
		{"empty", nil, []byte{}, ErrChunkMalformed},
		{"nil", nil, nil, ErrChunkMalformed},
		{"one byte", nil, []byte{0}, ErrChunkMalformed},
		{"header only", nil, []byte{0, 1}, ErrChunkMalformed},
		{"over 20 bytes", nil, append([]byte{0, 1}, make([]byte, ChunkData+1)...), ErrChunkMalformed},
		{"count zero", nil, []byte{0, 0, 1}, ErrChunkMalformed},
		{"count changes mid-frame", [][]byte{full}, append([]byte{1, 4}, make([]byte, ChunkData)...), ErrChunkMalformed},
		{"short non-last chunk first", nil, []byte{0, 3, 1, 2}, ErrChunkMalformed},
		{"short non-last chunk in the middle", [][]byte{full}, []byte{1, 3, 1}, ErrChunkMalformed},
		{"more chunks than MaxFrame needs", nil, append([]byte{0, 255}, make([]byte, ChunkData)...), ErrOversized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Reassembler
			for i, c := range tt.before {
				if _, err := r.Add(c); err != nil {
					t.Fatalf("Add before[%d]: %v", i, err)
				}
			}
			f, err := r.Add(tt.c)
			if !errors.Is(err, tt.want) || f != nil {
				t.Errorf("Add: expected %v and no frame, got %v and %x", tt.want, err, f)
			}
			if r.Pending() {
				t.Error("Pending after error: expected false, got true")
			}
		})
	}
}

// TestChunkOversized: a sender may claim the largest count MaxFrame allows and then
// fill the last chunk; the frame must still not grow past MaxFrame.
func TestChunkOversized(t *testing.T) {
	count := (MaxFrame + ChunkData - 1) / ChunkData
	var r Reassembler
	for seq := 0; seq < count; seq++ {
		c := append([]byte{byte(seq), byte(count)}, testBytes(ChunkData)...)
		f, err := r.Add(c)
		if seq < count-1 {
			if err != nil {
				t.Fatalf("Add chunk %d: %v", seq, err)
			}
			continue
		}
		if !errors.Is(err, ErrOversized) || f != nil {
			t.Fatalf("last full chunk: expected ErrOversized and no frame, got %v and %d bytes", err, len(f))
		}
	}
}

// FuzzReassemble feeds arbitrary chunk sequences. The input is a series of chunks,
// each prefixed by its length byte. Never panic; any frame returned is exactly the
// data parts of the chunks it was built from, in order, and at most MaxFrame bytes.
func FuzzReassemble(f *testing.F) {
	encode := func(chunks [][]byte) []byte {
		var b []byte
		for _, c := range chunks {
			b = append(append(b, byte(len(c))), c...)
		}
		return b
	}
	for _, n := range []int{1, ChunkData + 1, 3 * ChunkData} {
		c, err := Split(testBytes(n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(encode(c))
		f.Add(encode(append(c, c...)))
		if len(c) > 1 {
			f.Add(encode([][]byte{c[1], c[0]}))
			f.Add(encode(c[:len(c)-1]))
		}
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		var (
			r     Reassembler
			parts []byte // data of the chunks accepted since the reassembler was last idle
		)
		for len(in) > 0 {
			n := min(int(in[0]), len(in)-1)
			c := in[1 : 1+n]
			in = in[1+n:]
			frame, err := r.Add(c)
			switch {
			case err != nil:
				if frame != nil {
					t.Fatalf("Add returned a frame with error %v", err)
				}
				parts = nil
			case frame != nil:
				want := append(parts, c[chunkHeader:]...)
				if !bytes.Equal(frame, want) {
					t.Fatalf("frame: expected %x, got %x", want, frame)
				}
				if len(frame) > MaxFrame {
					t.Fatalf("frame of %d bytes exceeds MaxFrame %d", len(frame), MaxFrame)
				}
				parts = nil
			default:
				parts = append(parts, c[chunkHeader:]...)
			}
			if r.Pending() != (len(parts) > 0) {
				t.Fatalf("Pending: expected %v, got %v", len(parts) > 0, r.Pending())
			}
		}
	})
}
