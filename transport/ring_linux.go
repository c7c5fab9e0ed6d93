package transport

import (
	"errors"
	"fmt"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Shared ring header layout (struct qb_ringbuffer_shared_s), spec §3.3.
const (
	hdrWritePt   = 0
	hdrReadPt    = 4
	hdrWordSize  = 8
	hdrHdrPath   = 12
	hdrDataPath  = 4108
	hdrRefCount  = 8204
	hdrSem       = 8208
	hdrUserData  = 8240 // request ring: the flow-control word
	hdrSize      = 8248 // what we map; the server's file is 8252
	pathMax      = 4096
	chunkMagic   = 0xA1A1A1A1
	chunkDead    = 0xD0D0D0D0
	chunkAlloc   = 0xA110CED0
	chunkMargin  = 12 // two header words and an alignment word
	shmDir       = "/dev/shm/"
	minRingWords = 16
	maxRingBytes = 1 << 30
)

// errRing is the cause of every error about the shared-memory files.
var errRing = errors.New("bad shared-memory ring")

// ring is one mapped libqb ring buffer (header + data).
type ring struct {
	name  string // "request", "response", "event"
	hdr   []byte
	data  []byte
	words uint32 // word_size
	sem   sem
}

func (r *ring) u32(off int) *uint32 { return (*uint32)(unsafe.Pointer(&r.hdr[off])) }
func (r *ring) word(i uint32) *uint32 {
	return (*uint32)(unsafe.Pointer(&r.data[4*(i%r.words)]))
}

func (r *ring) refCount() int32 { return int32(atomic.LoadUint32(r.u32(hdrRefCount))) }
func (r *ring) flowControl() int32 {
	return int32(atomic.LoadUint32(r.u32(hdrUserData)))
}

// shmPath resolves a path the server sent and checks that it names a file
// below /dev/shm. Old libqb (< 1.0.5) sent bare names: /dev/shm/qb-<name>.
func shmPath(p string) (string, error) {
	if !strings.Contains(p, "/") {
		p = shmDir + "qb-" + p
	}
	if !filepath.IsAbs(p) || filepath.Clean(p) != p || !strings.HasPrefix(p, shmDir) || len(p) <= len(shmDir) {
		return "", fmt.Errorf("%w: path %q is not a file below %s", errRing, p, shmDir)
	}
	return p, nil
}

// openShm opens a server-created file for mapping: no symlinks followed,
// regular files only, nothing resized. It returns the fd and the file size.
func openShm(path string) (int, int64, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return -1, 0, fmt.Errorf("%w: open %s: %w", errRing, path, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, 0, fmt.Errorf("%w: stat %s: %w", errRing, path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return -1, 0, fmt.Errorf("%w: %s is not a regular file", errRing, path)
	}
	return fd, st.Size, nil
}

func mapFile(path string, size int) ([]byte, error) {
	fd, fsize, err := openShm(path)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	if size == 0 {
		size = int(fsize)
	}
	if fsize < int64(size) {
		return nil, fmt.Errorf("%w: %s has %d bytes, need %d", errRing, path, fsize, size)
	}
	b, err := unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("%w: mmap %s: %w", errRing, path, err)
	}
	return b, nil
}

func cString(b []byte) string {
	if i := strings.IndexByte(string(b), 0); i >= 0 {
		return string(b[:i])
	}
	return string(b)
}

// openRing maps the ring whose base path the server sent.
func openRing(name, base string) (r *ring, err error) {
	base, err = shmPath(base)
	if err != nil {
		return nil, err
	}
	r = &ring{name: name}
	defer func() {
		if err != nil {
			r.unmap()
			r = nil
		}
	}()
	defer faultGuard(debug.SetPanicOnFault(true), &err) // runs before the unmap above
	if r.hdr, err = mapFile(base+"-header", hdrSize); err != nil {
		return r, err
	}
	r.words = atomic.LoadUint32(r.u32(hdrWordSize))
	dataPath, err := shmPath(cString(r.hdr[hdrDataPath : hdrDataPath+pathMax]))
	if err != nil {
		return r, err
	}
	if r.words < minRingWords || uint64(r.words)*4 > maxRingBytes {
		return r, fmt.Errorf("%w: %s ring word_size %d out of range", errRing, name, r.words)
	}
	if r.data, err = mapFile(dataPath, 0); err != nil {
		return r, err
	}
	if len(r.data) != int(r.words)*4 {
		return r, fmt.Errorf("%w: %s ring: data file %s has %d bytes, word_size*4 is %d",
			errRing, name, dataPath, len(r.data), int(r.words)*4)
	}
	r.sem = sem{data: (*uint64)(unsafe.Pointer(&r.hdr[hdrSem]))}
	atomic.AddUint32(r.u32(hdrRefCount), 1) // 1 -> 2: we are attached
	return r, nil
}

// detach marks the ring closed as libqb's client does (ref_count 1, then
// decremented to 0). The caller guards against faults.
func (r *ring) detach() {
	if r.hdr != nil && r.data != nil {
		atomic.StoreUint32(r.u32(hdrRefCount), 1)
		atomic.AddUint32(r.u32(hdrRefCount), ^uint32(0))
	}
}

func (r *ring) unmap() {
	if r.data != nil {
		unix.Munmap(r.data)
		r.data = nil
	}
	if r.hdr != nil {
		unix.Munmap(r.hdr)
		r.hdr = nil
	}
}

// next returns the word position after a chunk of size bytes at p.
func (r *ring) next(p, size uint32) uint32 {
	n := uint64(p) + 2 + uint64(size)/4
	if size%4 != 0 {
		n++
	}
	return uint32(n % uint64(r.words))
}

// freeBytes computes the space left for writing (spec §3.5).
func (r *ring) freeBytes() uint64 {
	w := atomic.LoadUint32(r.u32(hdrWritePt))
	rd := atomic.LoadUint32(r.u32(hdrReadPt))
	n := uint64(r.words)
	var free uint64
	switch {
	case w > rd:
		free = uint64(rd) + n - uint64(w) - 1
	case w < rd:
		free = uint64(rd) - uint64(w) - 1
	default:
		if r.sem.value() > 0 {
			free = 0
		} else {
			free = n
		}
	}
	return free * 4
}

// copyIn copies b into the data area starting at byte offset off, wrapping.
func (r *ring) copyIn(off uint64, b []byte) {
	size := uint64(len(r.data))
	off %= size
	n := copy(r.data[off:], b)
	copy(r.data, b[n:])
}

func (r *ring) copyOut(dst []byte, off uint64) {
	size := uint64(len(r.data))
	off %= size
	n := copy(dst, r.data[off:])
	copy(dst[n:], r.data)
}

// errRingFull reports a request ring without room; the caller retries.
var errRingFull = errors.New("request ring full")

// write commits one chunk and posts the semaphore (spec §3.6).
// The caller guards against faults.
func (r *ring) write(b []byte) error {
	if r.freeBytes() < uint64(len(b))+chunkMargin {
		return errRingFull
	}
	p := atomic.LoadUint32(r.u32(hdrWritePt))
	if p >= r.words {
		return fmt.Errorf("%w: %s ring write_pt %d beyond word_size %d", errRing, r.name, p, r.words)
	}
	atomic.StoreUint32(r.word(p), 0)
	atomic.StoreUint32(r.word(p+1), chunkAlloc)
	r.copyIn(uint64((p+2)%r.words)*4, b)
	atomic.StoreUint32(r.word(p), uint32(len(b)))
	atomic.StoreUint32(r.u32(hdrWritePt), r.next(p, uint32(len(b))))
	atomic.StoreUint32(r.word(p+1), chunkMagic)
	if err := r.sem.post(); err != nil {
		return fmt.Errorf("%w: %s ring semaphore: %w", errRing, r.name, err)
	}
	return nil
}

// read copies the chunk at read_pt into buf[:0] (growing it) and reclaims
// it. The caller has already taken the chunk's semaphore token. max bounds
// the size accepted.
// The caller guards against faults.
func (r *ring) read(buf []byte, limit int) ([]byte, error) {
	p := atomic.LoadUint32(r.u32(hdrReadPt))
	if p >= r.words {
		return buf, fmt.Errorf("%w: %s ring read_pt %d beyond word_size %d", errRing, r.name, p, r.words)
	}
	if m := atomic.LoadUint32(r.word(p + 1)); m != chunkMagic {
		return buf, fmt.Errorf("%w: %s ring chunk at word %d has magic %#x, want %#x", errRing, r.name, p, m, uint32(chunkMagic))
	}
	size := atomic.LoadUint32(r.word(p))
	if uint64(size)+chunkMargin > uint64(len(r.data)) || int64(size) > int64(limit) {
		return buf, fmt.Errorf("%w: %s ring chunk at word %d claims %d bytes (ring %d, max message %d)",
			errRing, r.name, p, size, len(r.data), limit)
	}
	if cap(buf) < int(size) {
		buf = make([]byte, size, max(int(size), 2*cap(buf)))
	}
	out := buf[:size]
	r.copyOut(out, uint64((p+2)%r.words)*4)
	np := r.next(p, size)
	atomic.StoreUint32(r.word(p), 0)
	atomic.StoreUint32(r.word(p+1), chunkDead)
	atomic.StoreUint32(r.u32(hdrReadPt), np)
	return out, nil
}

// paths returns the two files of the ring, for cleanup after a dead
// server. The caller guards against faults.
func (r *ring) paths() (header, data string) {
	if r.hdr == nil {
		return "", ""
	}
	return cString(r.hdr[hdrHdrPath : hdrHdrPath+pathMax]), cString(r.hdr[hdrDataPath : hdrDataPath+pathMax])
}
