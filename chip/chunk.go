package chip

import "errors"

// Bluetooth LE's default ATT MTU leaves 20 bytes per write or notification, so frames
// travel as chunks of at most ChunkSize bytes:
//
//	0   sequence number, 0 for the first chunk
//	1   number of chunks in this frame (1..255)
//	2.. up to ChunkData bytes of the frame
//
// Every chunk but the last is full, so a frame of n bytes always splits the same way,
// and the receiver knows the frame is complete when it has seen chunk count-1.
const (
	ChunkSize   = 20
	chunkHeader = 2
	ChunkData   = ChunkSize - chunkHeader
)

// Chunk errors. A reassembler that returns one has forgotten the frame in progress.
var (
	ErrChunkMalformed = errors.New("chip: malformed chunk")
	ErrChunkLost      = errors.New("chip: chunk missing or out of order")
	ErrChunkDuplicate = errors.New("chip: chunk repeated")
)

// Split cuts an encoded frame into chunks.
func Split(frame []byte) ([][]byte, error) {
	if len(frame) == 0 {
		return nil, ErrTruncated
	}
	if len(frame) > MaxFrame {
		return nil, ErrOversized
	}
	count := (len(frame) + ChunkData - 1) / ChunkData
	chunks := make([][]byte, 0, count)
	for seq := 0; seq < count; seq++ {
		part := frame[seq*ChunkData : min((seq+1)*ChunkData, len(frame))]
		c := make([]byte, 0, chunkHeader+len(part))
		c = append(c, byte(seq), byte(count))
		chunks = append(chunks, append(c, part...))
	}
	return chunks, nil
}

// Reassembler collects chunks of one frame at a time. A lost last chunk cannot be
// seen here; the link's per-request timeout covers it. The zero value is ready.
type Reassembler struct {
	next  int // sequence number expected next
	count int // chunks in the frame in progress; 0 when idle
	buf   []byte
}

// Add takes one chunk. It returns the whole frame when c completes one. On error the
// frame in progress is dropped, so the next frame starts clean.
func (r *Reassembler) Add(c []byte) (frame []byte, err error) {
	frame, err = r.add(c)
	if err != nil || frame != nil {
		r.Reset()
	}
	return frame, err
}

func (r *Reassembler) add(c []byte) ([]byte, error) {
	if len(c) <= chunkHeader || len(c) > ChunkSize || c[1] == 0 {
		return nil, ErrChunkMalformed
	}
	seq, count, data := int(c[0]), int(c[1]), c[chunkHeader:]
	if r.count == 0 {
		if seq != 0 {
			return nil, ErrChunkLost
		}
		if count*ChunkData-ChunkData >= MaxFrame {
			return nil, ErrOversized
		}
		r.count = count
	}
	switch {
	case count != r.count:
		return nil, ErrChunkMalformed
	case seq < r.next:
		return nil, ErrChunkDuplicate
	case seq > r.next:
		return nil, ErrChunkLost
	case seq < count-1 && len(data) != ChunkData:
		return nil, ErrChunkMalformed
	}
	if len(r.buf)+len(data) > MaxFrame {
		// The count check above allows a last chunk that is full; only the running
		// length can tell that the frame has grown past MaxFrame.
		return nil, ErrOversized
	}
	r.buf = append(r.buf, data...)
	r.next++
	if r.next < r.count {
		return nil, nil
	}
	return r.buf, nil
}

// Reset drops any frame in progress.
func (r *Reassembler) Reset() { *r = Reassembler{} }

// Pending reports whether part of a frame has been received.
func (r *Reassembler) Pending() bool { return r.count != 0 }
