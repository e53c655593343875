package resilientfilestorageextension

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otel-ai-collector/otel-ai-collector/extension/resilientfilestorageextension/internal/metadata"
)

var exporterID = component.MustNewIDWithName("otlp_http", "remote")

type setup struct {
	dir  string
	tel  *componenttest.Telemetry
	logs *observer.ObservedLogs
	ext  storage.Extension
}

func newSetup(t *testing.T) setup {
	t.Helper()
	dir := t.TempDir()
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	core, logs := observer.New(zap.InfoLevel)
	set := extensiontest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	set.Logger = zap.New(core)
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.Directory = dir
	cfg.Timeout = 200 * time.Millisecond
	ext, err := NewFactory().Create(context.Background(), set, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := ext.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ext.Shutdown(context.Background()) })
	return setup{dir: dir, tel: tel, logs: logs, ext: ext.(storage.Extension)}
}

// The file the exporter's logs queue uses, as file_storage names it.
func TestFileNameIsFileStorages(t *testing.T) {
	s := newSetup(t)
	c, err := s.ext.GetClient(context.Background(), component.KindExporter, exporterID, "logs")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	want := FileName(component.KindExporter, exporterID, "logs")
	if want != "exporter_otlp_http_remote_logs" {
		t.Errorf("FileName = %q", want)
	}
	if _, err := os.Stat(filepath.Join(s.dir, want)); err != nil {
		t.Errorf("file_storage did not create %s: %v", want, err)
	}
	if got := FileName(component.KindReceiver, component.MustNewIDWithName("journald", "a/b"), ""); got != "receiver_journald_a~002Fb" {
		t.Errorf("sanitized name %q", got)
	}
}

func TestDamagedFileMovedAside(t *testing.T) {
	valid := func(path string) {
		db, err := bbolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		_ = db.Update(func(tx *bbolt.Tx) error {
			b, _ := tx.CreateBucketIfNotExists([]byte("default"))
			return b.Put([]byte("k"), bytes.Repeat([]byte("v"), 10000))
		})
		db.Close()
	}
	random := func(path string) {
		// A valid database whose first two 4 KiB pages (bbolt's two meta
		// pages) are overwritten, as a torn write can leave them.
		valid(path)
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		junk := make([]byte, 8192)
		_, _ = rand.Read(junk)
		_, _ = f.WriteAt(junk, 0)
		f.Close()
	}
	for name, damage := range map[string]func(path string){
		"random pages": random,
		// Cut inside its third page: bbolt opens it, and its first read
		// past the end would be a SIGBUS.
		"truncated": func(path string) {
			valid(path)
			if err := os.Truncate(path, 2*4096+1000); err != nil {
				t.Fatal(err)
			}
		},
		"directory": func(path string) { _ = os.MkdirAll(filepath.Join(path, "x"), 0o700) },
		"short file": func(path string) {
			_ = os.WriteFile(path, []byte("not a bbolt file"), 0o600)
		},
	} {
		t.Run(name, func(t *testing.T) {
			s := newSetup(t)
			path := filepath.Join(s.dir, "exporter_otlp_http_remote_logs")
			damage(path)
			c, err := s.ext.GetClient(context.Background(), component.KindExporter, exporterID, "logs")
			if err != nil {
				t.Fatalf("GetClient with a damaged file: %v", err)
			}
			// The fresh file works.
			if err := c.Set(context.Background(), "k", []byte("v")); err != nil {
				t.Fatal(err)
			}
			_ = c.Close(context.Background())
			aside, _ := filepath.Glob(path + AsideMarker + "*")
			if len(aside) != 1 {
				t.Fatalf("files moved aside: %v, want 1", aside)
			}
			entries := s.logs.FilterMessageSnippet("Damaged state file moved aside").All()
			if len(entries) != 1 {
				t.Fatalf("%d error lines, want 1; all: %v", len(entries), s.logs.All())
			}
			fields := entries[0].ContextMap()
			t.Logf("lost: %v (open error: %v)", fields["lost"], fields["open_error"])
			if entries[0].Level != zap.ErrorLevel || fields["file"] != path || fields["moved_to"] != aside[0] || fields["lost"] == "" {
				t.Errorf("log line %v %v", entries[0].Level, fields)
			}
			m, err := s.tel.GetMetric("otelcol_extension_resilient_file_storage_damaged_files")
			if err != nil {
				t.Fatal(err)
			}
			sum := m.Data.(metricdata.Sum[int64])
			if len(sum.DataPoints) != 1 || sum.DataPoints[0].Value != 1 {
				t.Errorf("damaged files counted: %+v", sum.DataPoints)
			}
		})
	}
}

// A file locked by another process is not damaged: it stays where it is,
// and the error says why.
func TestLockedFileIsNotMovedAside(t *testing.T) {
	s := newSetup(t)
	path := filepath.Join(s.dir, "exporter_otlp_http_remote_logs")
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, err = s.ext.GetClient(context.Background(), component.KindExporter, exporterID, "logs")
	if err == nil || !strings.Contains(err.Error(), "locked by another process") {
		t.Fatalf("GetClient on a locked file: %v", err)
	}
	if aside, _ := filepath.Glob(path + AsideMarker + "*"); len(aside) != 0 {
		t.Errorf("a locked file was moved aside: %v", aside)
	}
}

// What a file held is counted when bbolt can still read its keys: an
// exporter queue's requests are stored under their index.
func TestHeldCountsQueuedRequests(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queue")
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = db.Update(func(tx *bbolt.Tx) error {
		b, _ := tx.CreateBucketIfNotExists([]byte("default"))
		for _, k := range []string{"qmv0", "0", "1", "2"} {
			_ = b.Put([]byte(k), []byte("v"))
		}
		return nil
	})
	db.Close()
	r := &resilientStorage{timeout: time.Second}
	if got := r.held(path, component.KindExporter); got != "3 queued requests (batches of records)" {
		t.Errorf("exporter queue: %q", got)
	}
	if got := r.held(path, component.KindReceiver); got != "4 stored keys" {
		t.Errorf("receiver: %q", got)
	}
}

// BenchmarkCheckFullQueue is the read-only check's cost at start for a
// queue file at the default bound (100 MiB of queued requests, 64 KiB
// each): it adds to the collector's start-up.
func BenchmarkCheckFullQueue(b *testing.B) {
	path := filepath.Join(b.TempDir(), "queue")
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	value := make([]byte, 64<<10)
	_, _ = rand.Read(value)
	for i := 0; i < 1600; i += 100 {
		_ = db.Update(func(tx *bbolt.Tx) error {
			bucket, _ := tx.CreateBucketIfNotExists([]byte("default"))
			for j := i; j < i+100; j++ {
				if err := bucket.Put([]byte(strconv.Itoa(j)), value); err != nil {
					return err
				}
			}
			return nil
		})
	}
	db.Close()
	info, _ := os.Stat(path)
	b.Logf("file of %d MiB", info.Size()>>20)
	r := &resilientStorage{timeout: time.Second}
	b.ResetTimer()
	for b.Loop() {
		if err := r.check(path); err != nil {
			b.Fatal(err)
		}
	}
}
