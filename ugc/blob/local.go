package blob

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// localStore keeps uploads and blobs under DataDir/ugc:
//
//	uploads/<id>.json   record
//	uploads/<id>.bin    staged bytes
//	blobs/<tenant>/<project>/<sha256>
type localStore struct {
	dir string
}

func newLocalStore(dataDir string) (*localStore, error) {
	d := filepath.Join(dataDir, "ugc")
	for _, sub := range []string{"uploads", "blobs"} {
		if err := os.MkdirAll(filepath.Join(d, sub), 0o750); err != nil {
			return nil, fmt.Errorf("blob: %w", err)
		}
	}
	return &localStore{dir: d}, nil
}

func (l *localStore) recPath(id string) string { return filepath.Join(l.dir, "uploads", id+".json") }
func (l *localStore) binPath(id string) string { return filepath.Join(l.dir, "uploads", id+".bin") }
func (l *localStore) blobPath(r Ref) string {
	return filepath.Join(l.dir, "blobs", r.Tenant, r.Project, r.SHA256)
}

func (l *localStore) begin(ctx context.Context, rec *record) error {
	f, err := os.OpenFile(l.binPath(rec.Upload.ID), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("blob: stage upload: %w", err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	return l.save(ctx, rec)
}

func (l *localStore) load(_ context.Context, id string) (*record, error) {
	b, err := os.ReadFile(l.recPath(id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("blob: load upload: %w", err)
	}
	var rec record
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("blob: upload record %s: %w", id, err)
	}
	return &rec, nil
}

// save writes the record atomically (temporary file, fsync, rename).
func (l *localStore) save(_ context.Context, rec *record) error {
	rec.Updated = time.Now()
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return writeFileAtomic(l.recPath(rec.Upload.ID), b)
}

func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("blob: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("blob: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("blob: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("blob: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("blob: %w", err)
	}
	return syncDir(filepath.Dir(path))
}

// syncDir makes a rename or link in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("blob: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("blob: sync %s: %w", dir, err)
	}
	return nil
}

// write appends to the staged file. Bytes past rec.Offset (left by a crash
// between writing and saving the record) are cut off first, so the file and
// the hash state always agree.
func (l *localStore) write(ctx context.Context, rec *record, src io.Reader) (int64, error) {
	f, err := os.OpenFile(l.binPath(rec.Upload.ID), os.O_WRONLY, 0)
	if err != nil {
		return 0, fmt.Errorf("blob: open staged upload: %w", err)
	}
	defer f.Close()
	if err := f.Truncate(rec.Offset); err != nil {
		return 0, fmt.Errorf("blob: %w", err)
	}
	if _, err := f.Seek(rec.Offset, io.SeekStart); err != nil {
		return 0, fmt.Errorf("blob: %w", err)
	}
	h, err := rec.hasher()
	if err != nil {
		return 0, err
	}
	n, copyErr := io.CopyBuffer(io.MultiWriter(f, h), src, make([]byte, 256<<10))
	if n == 0 {
		return 0, copyErr
	}
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("blob: %w", err)
	}
	rec.Offset += n
	if err := rec.setHash(h); err != nil {
		return 0, err
	}
	if rec.Offset == rec.Upload.Size {
		rec.State = stateFull
	}
	if err := l.save(ctx, rec); err != nil {
		rec.Offset -= n
		return 0, err
	}
	return n, copyErr
}

func (l *localStore) finalize(_ context.Context, rec *record) (bool, error) {
	dst := l.blobPath(rec.ref(""))
	if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
		return false, fmt.Errorf("blob: %w", err)
	}
	src := l.binPath(rec.Upload.ID)
	// Link, not rename: it fails when the blob exists, so a blob is never
	// replaced under a reader.
	err := os.Link(src, dst)
	created := err == nil
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return false, fmt.Errorf("blob: store blob: %w", err)
	}
	if created {
		if err := syncDir(filepath.Dir(dst)); err != nil {
			return false, err
		}
	}
	if err := os.Remove(src); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return created, fmt.Errorf("blob: %w", err)
	}
	return created, nil
}

func (l *localStore) discard(_ context.Context, rec *record) error {
	if err := os.Remove(l.binPath(rec.Upload.ID)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("blob: %w", err)
	}
	return nil
}

func (l *localStore) forget(_ context.Context, id string) error {
	if err := os.Remove(l.recPath(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("blob: %w", err)
	}
	return nil
}

func (l *localStore) ids(context.Context) ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(l.dir, "uploads"))
	if err != nil {
		return nil, fmt.Errorf("blob: %w", err)
	}
	var out []string
	for _, e := range ents {
		if id, ok := strings.CutSuffix(e.Name(), ".json"); ok {
			out = append(out, id)
		}
	}
	return out, nil
}

// orphans lists staged files with no record (a crash between creating the
// file and saving the record) and temporary records (a crash inside save);
// the caller removes those older than an upload's lifetime.
func (l *localStore) orphans() ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(l.dir, "uploads"))
	if err != nil {
		return nil, fmt.Errorf("blob: %w", err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".tmp") {
			out = append(out, filepath.Join(l.dir, "uploads", e.Name()))
			continue
		}
		if id, ok := strings.CutSuffix(e.Name(), ".bin"); ok {
			if _, err := os.Stat(l.recPath(id)); errors.Is(err, fs.ErrNotExist) {
				out = append(out, l.binPath(id))
			}
		}
	}
	return out, nil
}

func (l *localStore) deleteBlob(_ context.Context, ref Ref) error {
	if err := os.Remove(l.blobPath(ref)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("blob: delete %s: %w", ref.Key(), err)
	}
	return nil
}

func (l *localStore) exists(_ context.Context, ref Ref) (bool, error) {
	_, err := os.Stat(l.blobPath(ref))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

func (l *localStore) open(ref Ref) (*os.File, error) {
	f, err := os.Open(l.blobPath(ref))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	return f, err
}
