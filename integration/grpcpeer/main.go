// grpcpeer is a gRPC server or client (grpc-go, plaintext HTTP/2 with prior
// knowledge, as local gRPC daemons speak it) for the eBPF receiver's tests.
// Its service is grpc-go's own health service: Check is unary, Watch is
// server-streaming.
//
//	grpcpeer -serve 127.0.0.1:PORT      (or unix:/path/to/socket)
//	grpcpeer -call 127.0.0.1:PORT -traceparent 00-...-01   (or unix:///path/to/socket)
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

func main() {
	serve := flag.String("serve", "", "listen address")
	call := flag.String("call", "", "server address")
	traceparent := flag.String("traceparent", "", "traceparent of the first call")
	concurrent := flag.Int("concurrent", 8, "unary calls at once on the connection")
	flag.Parse()
	switch {
	case *serve != "":
		network, address := "tcp", *serve
		if path, ok := strings.CutPrefix(*serve, "unix:"); ok {
			network, address = "unix", path
		}
		lis, err := net.Listen(network, address)
		if err != nil {
			log.Fatal(err)
		}
		server := grpc.NewServer()
		hs := health.NewServer()
		hs.SetServingStatus("svc", healthpb.HealthCheckResponse_SERVING)
		healthpb.RegisterHealthServer(server, hs)
		log.Fatal(server.Serve(lis))
	case *call != "":
		if err := calls(*call, *traceparent, *concurrent); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	default:
		flag.Usage()
		os.Exit(2)
	}
}

// calls makes, on one connection: a unary Check with a traceparent (OK), a
// Check of an unknown service (NOT_FOUND), a Watch that receives the first
// status and is cancelled (CANCELLED), and concurrent Checks (OK). It prints
// each call's status code.
func calls(addr, traceparent string, concurrent int) error {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	first := ctx
	if traceparent != "" {
		first = metadata.AppendToOutgoingContext(ctx, "traceparent", traceparent)
	}
	if _, err := client.Check(first, &healthpb.HealthCheckRequest{}); err != nil {
		return fmt.Errorf("Check: %w", err)
	}
	fmt.Println("Check", status.Code(err))
	_, err = client.Check(ctx, &healthpb.HealthCheckRequest{Service: "missing"})
	fmt.Println("Check missing", status.Code(err))

	watchCtx, stop := context.WithCancel(ctx)
	stream, err := client.Watch(watchCtx, &healthpb.HealthCheckRequest{Service: "svc"})
	if err != nil {
		stop()
		return fmt.Errorf("Watch: %w", err)
	}
	if _, err := stream.Recv(); err != nil {
		stop()
		return fmt.Errorf("Watch: %w", err)
	}
	stop()
	_, err = stream.Recv()
	fmt.Println("Watch", status.Code(err))

	var wg sync.WaitGroup
	errs := make(chan error, concurrent)
	for range concurrent {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := client.Check(ctx, &healthpb.HealthCheckRequest{Service: "svc"}); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return fmt.Errorf("concurrent Check: %w", err)
	}
	fmt.Println("concurrent Check OK", concurrent)
	// Let the server's last trailers arrive before the connection closes.
	time.Sleep(200 * time.Millisecond)
	return nil
}
