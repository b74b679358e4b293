// franz-go producer for isokafka's benchmark (bench/run.mjs). Produces N records of a fixed size without keys,
// with the same settings as the other producers (linger, batch size, acks, idempotence, in-flight 5, 32 MiB buffer),
// measures send→ack latency per record and prints one JSON line on stdout. -shared-callback: one promise function for
// every record, latency from the record's timestamp (as bench/producers/isokafka.mjs drives produce()); otherwise a
// closure per record that keeps time.Now() at the call. -codec/-level compress batches (the codec scenarios);
// -payload-file takes the values from a file, one per line, cycled (realistic records instead of a fixed value). Built by bench/lib/producers.mjs with
// `go build` into ~/.cache/isokafka/bench/.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

type result struct {
	Client        string             `json:"client"`
	Records       int                `json:"records"`
	Acked         int64              `json:"acked"`
	Failed        int64              `json:"failed"`
	FirstError    string             `json:"firstError,omitempty"`
	Seconds       float64            `json:"seconds"`
	RecordsPerSec float64            `json:"recordsPerSec"`
	MBPerSec      float64            `json:"mbPerSec"`
	Latency       map[string]float64 `json:"latencyMs"`
	PhaseCPU      float64            `json:"phaseCpuSeconds"`
	RawBytes      int64              `json:"rawValueBytes"`
}

func compression(codec string, level int) kgo.CompressionCodec {
	var c kgo.CompressionCodec
	switch codec {
	case "none":
		return kgo.NoCompression()
	case "gzip":
		c = kgo.GzipCompression()
	case "snappy":
		c = kgo.SnappyCompression()
	case "lz4":
		c = kgo.Lz4Compression()
	case "zstd":
		c = kgo.ZstdCompression()
	default:
		fmt.Fprintln(os.Stderr, "unknown -codec", codec)
		os.Exit(2)
	}
	if level != 0 {
		c = c.WithLevel(level)
	}
	return c
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

func main() {
	bootstrap := flag.String("bootstrap", "127.0.0.1:9092", "brokers, comma separated")
	topic := flag.String("topic", "", "topic")
	records := flag.Int("records", 100000, "records to produce")
	size := flag.Int("size", 100, "value size in bytes")
	acks := flag.String("acks", "all", "all or 1")
	idempotent := flag.Bool("idempotent", true, "idempotent writes (needs acks=all)")
	lingerMs := flag.Int("linger-ms", 5, "linger")
	batchBytes := flag.Int("batch-bytes", 16384, "max batch bytes (batch.size)")
	bufferBytes := flag.Int("buffer-bytes", 32<<20, "max buffered bytes (buffer.memory)")
	codec := flag.String("codec", "none", "batch compression: none, gzip, snappy, lz4, zstd")
	level := flag.Int("level", 0, "compression level as franz-go takes it (0: the codec's default: zstd is klauspost SpeedDefault, about zstd level 3; lz4 pierrec's fast mode)")
	payloadFile := flag.String("payload-file", "", "values from this file, one per line, cycled (else -size bytes)")
	sharedCallback := flag.Bool("shared-callback", false, "one promise for every record; latency from the record's timestamp (ms, as kgo stamps it)")
	flag.Parse()
	if *topic == "" {
		fmt.Fprintln(os.Stderr, "-topic is required")
		os.Exit(2)
	}

	opts := []kgo.Opt{
		kgo.SeedBrokers(strings.Split(*bootstrap, ",")...),
		kgo.ClientID("franz-go-bench"),
		kgo.DefaultProduceTopic(*topic),
		kgo.ProducerLinger(time.Duration(*lingerMs) * time.Millisecond),
		kgo.ProducerBatchMaxBytes(int32(*batchBytes)),
		kgo.ProducerBatchCompression(compression(*codec, *level)),
		kgo.MaxBufferedBytes(*bufferBytes),
		kgo.MaxBufferedRecords(*records + 1),
		// Java's KIP-794 sticky partitioner switches partition after batch.size bytes; do the same.
		kgo.RecordPartitioner(kgo.UniformBytesPartitioner(*batchBytes, true, true, nil)),
	}
	if *acks == "all" {
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	} else {
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()))
	}
	if !*idempotent || *acks != "all" {
		// without idempotence franz-go defaults to 1 request in flight per broker; Java and isokafka use 5
		opts = append(opts, kgo.DisableIdempotentWrite(), kgo.MaxProduceRequestsInflightPerBroker(5))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer cl.Close()
	ctx := context.Background()
	// warm up: metadata and connection, as the other producers do before their clock starts
	if err := cl.Ping(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "ping:", err)
		os.Exit(1)
	}

	value := make([]byte, *size)
	for i := range value {
		value[i] = byte('a' + i%26)
	}
	values := [][]byte{value}
	if *payloadFile != "" {
		data, err := os.ReadFile(*payloadFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		values = bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	}
	var rawBytes int64
	for i := 0; i < *records; i++ {
		rawBytes += int64(len(values[i%len(values)]))
	}
	lat := make([]float64, *records)
	var acked, failed atomic.Int64
	var firstErr sync.Once
	var firstError string
	var wg sync.WaitGroup
	wg.Add(*records)
	cpu0 := cpuSeconds()
	start := time.Now()
	var latN atomic.Int64 // next free slot of lat for the shared promise (acks fill it in ack order)
	shared := func(r *kgo.Record, err error) {
		if err != nil {
			failed.Add(1)
			firstErr.Do(func() { firstError = err.Error() })
		} else {
			lat[latN.Add(1)-1] = float64(time.Since(r.Timestamp).Microseconds()) / 1000
			acked.Add(1)
		}
		wg.Done()
	}
	for i := 0; i < *records; i++ {
		if *sharedCallback {
			cl.Produce(ctx, &kgo.Record{Value: values[i%len(values)]}, shared)
			continue
		}
		t := time.Now()
		idx := i
		cl.Produce(ctx, &kgo.Record{Value: values[i%len(values)]}, func(_ *kgo.Record, err error) {
			if err != nil {
				failed.Add(1)
				firstErr.Do(func() { firstError = err.Error() })
			} else {
				lat[idx] = float64(time.Since(t).Microseconds()) / 1000
				acked.Add(1)
			}
			wg.Done()
		})
	}
	wg.Wait()
	seconds := time.Since(start).Seconds()
	phaseCPU := cpuSeconds() - cpu0

	ok := lat[:0]
	if failed.Load() == 0 {
		ok = lat
	} else {
		for _, v := range lat {
			if v > 0 {
				ok = append(ok, v)
			}
		}
	}
	sort.Float64s(ok)
	pct := func(p float64) float64 {
		if len(ok) == 0 {
			return 0
		}
		i := int(p / 100 * float64(len(ok)))
		if i >= len(ok) {
			i = len(ok) - 1
		}
		return ok[i]
	}
	sum := 0.0
	for _, v := range ok {
		sum += v
	}
	avg := 0.0
	if len(ok) > 0 {
		avg = sum / float64(len(ok))
	}
	r := result{
		Client:        "franz-go",
		Records:       *records,
		Acked:         acked.Load(),
		Failed:        failed.Load(),
		FirstError:    firstError,
		Seconds:       seconds,
		RecordsPerSec: float64(*records) / seconds,
		MBPerSec:      float64(rawBytes) / seconds / 1e6,
		RawBytes:      rawBytes,
		Latency:       map[string]float64{"avg": avg, "p50": pct(50), "p99": pct(99), "max": pct(100)},
		PhaseCPU:      phaseCPU,
	}
	out, _ := json.Marshal(r)
	fmt.Println(string(out))
	if r.Failed > 0 {
		os.Exit(1)
	}
}
