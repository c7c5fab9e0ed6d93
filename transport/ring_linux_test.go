package transport

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"
	"unsafe"
)

// memRing builds a ring over ordinary memory (8-aligned) for unit tests.
func memRing(words uint32) *ring {
	hdr := make([]uint64, (hdrSize+7)/8)
	data := make([]uint32, words)
	r := &ring{name: "test", words: words,
		hdr:  unsafe.Slice((*byte)(unsafe.Pointer(&hdr[0])), hdrSize),
		data: unsafe.Slice((*byte)(unsafe.Pointer(&data[0])), 4*int(words))}
	r.sem = sem{data: (*uint64)(unsafe.Pointer(&r.hdr[hdrSem]))}
	binary.LittleEndian.PutUint32(r.hdr[hdrWordSize:], words)
	return r
}

// Chunks of every size written and read in turn survive wrap-around of
// both the chunk header and the payload.
func TestRingWrapRoundTrip(t *testing.T) {
	r := memRing(64)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20000; i++ {
		msg := make([]byte, 1+rng.IntN(200))
		for j := range msg {
			msg[j] = byte(rng.Uint32())
		}
		if err := r.write(msg); err != nil {
			t.Fatalf("write %d (%d bytes): %v", i, len(msg), err)
		}
		if !r.sem.tryWait() {
			t.Fatal("write did not post")
		}
		got, err := r.read(nil, 1<<20)
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("read %d: %v (%d bytes, want %d)", i, err, len(got), len(msg))
		}
	}
	// A ring never accepts more than it can hold.
	if err := r.write(make([]byte, 64*4)); err != errRingFull {
		t.Fatalf("oversize write: %v", err)
	}
}

// FuzzRingRead: whatever the ring's memory holds, read returns an error or
// a chunk within the ring and the limit; it never panics.
func FuzzRingRead(f *testing.F) {
	seed := memRing(32)
	seed.write([]byte("hello, corosync"))
	f.Add(append([]byte(nil), seed.data...), uint32(0), uint32(32))
	f.Add(make([]byte, 128), uint32(31), uint32(32))
	f.Fuzz(func(t *testing.T, data []byte, readPt, words uint32) {
		words = words%256 + minRingWords
		r := memRing(words)
		copy(r.data, data)
		binary.LittleEndian.PutUint32(r.hdr[hdrReadPt:], readPt)
		out, err := r.read(nil, 512)
		if err != nil {
			return
		}
		if len(out) > 512 || len(out)+chunkMargin > len(r.data) {
			t.Fatalf("read %d bytes from a %d-byte ring", len(out), len(r.data))
		}
		if np := binary.LittleEndian.Uint32(r.hdr[hdrReadPt:]); np >= words {
			t.Fatalf("read_pt %d outside the ring", np)
		}
	})
}
