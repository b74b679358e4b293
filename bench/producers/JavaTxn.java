// Java's KafkaProducer as the transactions scenario's producer (run as a single-file source program:
// java -cp '<kafka libs>/*' bench/producers/JavaTxn.java '<config json>'). The same loop as isokafka-txn.mjs:
// transactions of txnRecords records, send(record, callback) with one callback, commitTransaction() per transaction.
// Prints one JSON line in the benchmark children's result format. Optional config: transactionalId (default
// java-bench-<pid>) and value (the records' value as text instead of random letters), used by
// test/integration/transactions.test.ts to fence an isokafka producer with Java's.
import java.util.*;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public class JavaTxn {
  static String str(String json, String key) {
    Matcher m = Pattern.compile("\"" + key + "\"\\s*:\\s*\"([^\"]*)\"").matcher(json);
    return m.find() ? m.group(1) : null;
  }
  static long num(String json, String key) {
    Matcher m = Pattern.compile("\"" + key + "\"\\s*:\\s*(-?\\d+)").matcher(json);
    return m.find() ? Long.parseLong(m.group(1)) : 0;
  }

  public static void main(String[] args) throws Exception {
    String c = args[0];
    long n = num(c, "records");
    long perTxn = num(c, "txnRecords");
    int size = (int) num(c, "size");
    String topic = str(c, "topic");
    Properties p = new Properties();
    p.put("bootstrap.servers", str(c, "bootstrap"));
    String id = str(c, "transactionalId");
    p.put("transactional.id", id != null ? id : "java-bench-" + ProcessHandle.current().pid());
    p.put("linger.ms", String.valueOf(num(c, "lingerMs")));
    p.put("batch.size", String.valueOf(num(c, "batchSize")));
    p.put("buffer.memory", String.valueOf(num(c, "bufferMemory")));
    p.put("compression.type", "none");
    p.put("client.id", "java-bench");
    byte[] value = new byte[size];
    Random r = new Random(1);
    for (int i = 0; i < size; i++) value[i] = (byte) ('A' + r.nextInt(26));
    if (str(c, "value") != null) value = str(c, "value").getBytes(java.nio.charset.StandardCharsets.UTF_8);
    AtomicLong acked = new AtomicLong(), failed = new AtomicLong();
    Callback cb = (meta, err) -> { if (err != null) failed.incrementAndGet(); else acked.incrementAndGet(); };
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
      producer.partitionsFor(topic);
      producer.initTransactions();
      List<Double> commits = new ArrayList<>();
      long t0 = System.nanoTime();
      for (long sent = 0; sent < n; ) {
        producer.beginTransaction();
        long end = Math.min(n, sent + perTxn);
        for (; sent < end; sent++) producer.send(new ProducerRecord<>(topic, value), cb);
        long t = System.nanoTime();
        producer.commitTransaction();
        commits.add((System.nanoTime() - t) / 1e6);
      }
      double seconds = (System.nanoTime() - t0) / 1e9;
      Collections.sort(commits);
      double p50 = commits.get(commits.size() / 2), p99 = commits.get(Math.min(commits.size() - 1, (int) (commits.size() * 0.99)));
      double avg = commits.stream().mapToDouble(Double::doubleValue).average().orElse(0);
      System.out.println(String.format(Locale.ROOT,
        "{\"client\":\"java\",\"records\":%d,\"acked\":%d,\"failed\":%d,\"seconds\":%.4f,\"recordsPerSec\":%.1f,\"mbPerSec\":%.3f,\"latencyMs\":null,\"commitMs\":{\"avg\":%.3f,\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f},\"transactions\":%d,\"phaseCpuSeconds\":null}",
        n, acked.get(), failed.get(), seconds, n / seconds, n * size / seconds / 1e6, avg, p50, p99, commits.get(commits.size() - 1), commits.size()));
    }
  }
}
