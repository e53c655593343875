package profileforwardingprocessor

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	pprofconv "github.com/open-telemetry/opentelemetry-collector-contrib/pkg/translator/pprof"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pprofile"
)

// realProfile is a 10 s CPU profile of a Go program (729 samples, 988
// locations, 446 functions; 30 KB gzipped), as OTLP profiles the way the
// pyroscope receiver produces them.
func realProfile(b *testing.B) (pprofile.Profiles, []byte) {
	raw, err := os.ReadFile("../../bench/testdata/go-cpu-10s.pprof")
	if err != nil {
		b.Fatal(err)
	}
	parsed, err := profile.ParseData(raw)
	if err != nil {
		b.Fatal(err)
	}
	converted, err := pprofconv.ConvertPprofToProfiles(parsed)
	if err != nil {
		b.Fatal(err)
	}
	_ = converted.ResourceProfiles().At(0).Resource().Attributes().FromRaw(map[string]any{"service.name": "bench", "env": "prod"})
	return *converted, raw
}

// discardPyroscope accepts every push without decoding it, so that the
// numbers are the processor's cost, not a server's.
func discardPyroscope(b *testing.B) (*httptest.Server, *atomic.Int64) {
	var received atomic.Int64
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		received.Add(1)
	}))
	b.Cleanup(server.Close)
	return server, &received
}

// BenchmarkForwardProfile measures, side by side in one run, per profile:
//   - convert: OTLP profiles to a gzipped pprof push (the processor's own work);
//   - send_original: POSTing the original pprof bytes to Pyroscope, which is
//     what an SDK pushing directly costs (the baseline);
//   - convert_and_send: conversion plus the POST;
//   - pipeline: ConsumeProfiles through the queue until Pyroscope has it.
func BenchmarkForwardProfile(b *testing.B) {
	pd, raw := realProfile(b)
	server, received := discardPyroscope(b)
	p := startProcessor(b, server.URL, new(consumertest.ProfilesSink), nil)
	f := p.forwarder

	b.Run("convert", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := f.pushes(pd); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("send_original", func(b *testing.B) {
		b.ReportAllocs()
		push := pyroscopePush{name: "bench{env=prod}", from: time.Now(), until: time.Now().Add(10 * time.Second), spyName: "gospy", pprof: raw}
		for b.Loop() {
			if err := f.send(context.Background(), push); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("convert_and_send", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := f.push(context.Background(), pd); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("pipeline", func(b *testing.B) {
		// A queue that blocks when full, to measure sustained throughput.
		p := startProcessor(b, server.URL, new(consumertest.ProfilesSink), func(cfg *Config) {
			cfg.QueueConfig.Get().BlockOnOverflow = true
		})
		b.ReportAllocs()
		start := received.Load()
		for b.Loop() {
			if err := p.ConsumeProfiles(context.Background(), pd); err != nil {
				b.Fatal(err)
			}
		}
		for received.Load()-start < int64(b.N) {
			time.Sleep(time.Millisecond)
		}
	})
}
