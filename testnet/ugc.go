package testnet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// TusHead asks a tus upload resource for its offset.
func TusHead(ctx context.Context, hc *http.Client, url string) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Tus-Resumable", "1.0.0")
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("tus HEAD %s: %d (%s)", url, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64)
}

// TusPatch sends data as the bytes at offset of a tus upload and returns
// the new offset the server reports.
func TusPatch(ctx context.Context, hc *http.Client, url string, offset int64, data []byte) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, url, bytes.NewReader(data))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	req.Header.Set("Upload-Offset", strconv.FormatInt(offset, 10))
	req.ContentLength = int64(len(data))
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return 0, &TusError{Status: resp.StatusCode, Body: string(body)}
	}
	return strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64)
}

// TusError is a tus request the server refused.
type TusError struct {
	Status int
	Body   string
}

func (e *TusError) Error() string { return fmt.Sprintf("tus PATCH: %d %s", e.Status, e.Body) }

// TusUpload sends data to a tus upload resource from the offset the
// server has (resuming an interrupted upload), in chunks of chunk bytes
// (0: one request). It stops after stopAt bytes when stopAt > 0, as an
// interrupted client would.
func TusUpload(ctx context.Context, hc *http.Client, url string, data []byte, chunk int, stopAt int64) error {
	off, err := TusHead(ctx, hc, url)
	if err != nil {
		return err
	}
	end := int64(len(data))
	if stopAt > 0 && stopAt < end {
		end = stopAt
	}
	for off < end {
		next := end
		if chunk > 0 && off+int64(chunk) < end {
			next = off + int64(chunk)
		}
		got, err := TusPatch(ctx, hc, url, off, data[off:next])
		if err != nil {
			return err
		}
		if got <= off {
			return errors.New("tus: the offset did not advance")
		}
		off = got
	}
	return nil
}
