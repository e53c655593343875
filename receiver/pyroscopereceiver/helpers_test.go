package pyroscopereceiver

import (
	"bytes"
	"mime/multipart"
	"testing"
)

// multipartBody builds the body the Go SDK sends.
func multipartBody(t testing.TB, pprofBytes []byte, sampleTypeConfig string) (contentType string, body []byte) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	fw, err := w.CreateFormFile("profile", "profile.pprof")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fw.Write(pprofBytes)
	if sampleTypeConfig != "" {
		fw, err = w.CreateFormFile("sample_type_config", "sample_type_config.json")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = fw.Write([]byte(sampleTypeConfig))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return w.FormDataContentType(), buf.Bytes()
}

// testLimit is the receiver's default decompression budget.
func testLimit() *sizeLimit {
	return &sizeLimit{perProfile: defaultMaxProfileSize, total: defaultMaxRequestBodySize}
}
