/*
 * The Open MPI baseline of `switchyard bench --ompi`: two MPI ranks run the bench's workload
 * (ping-pong latency, windowed bandwidth) through whatever BTL mpirun selected, taking their
 * turns from the bench's gate like every other transport of the run.
 *
 *   mpirun -np 2 ... mpi_pingpong GATE_SOCKET SESSION STEP_TIMEOUT_S PHASE...
 *   PHASE = latency|bandwidth:SIZE:ITERATIONS:WARMUP:BATCHES:WINDOW
 *
 * Both ranks connect to the gate (a Unix socket, JSON lines; see src/bench/protocol.ts), say
 * hello with their side, then wait in a blocking read() for `{"go":P,"step":S}` or
 * `{"end":true}`. A rank not on turn therefore sleeps instead of spinning in MPI progress, so it
 * does not take a core from the transports measured meanwhile. Rank 0 times each step and
 * reports `{"report":{"phase":P,"step":S,"ms":X}}`. Step 0 is the warm-up, steps 1..BATCHES the
 * timed batches of ITERATIONS/BATCHES round trips (latency) or windows (bandwidth).
 * A step that does not end within STEP_TIMEOUT_S kills the rank (SIGALRM), and mpirun the job.
 */
#define _GNU_SOURCE
#include <mpi.h>
#include <sched.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

enum { LATENCY, BANDWIDTH };
enum { DATA_TAG = 1, ACK_TAG = 2, ACK_BYTES = 4 };

typedef struct {
  int benchmark;
  long size, iterations, warmup, batches, window;
} phase_t;

static int rank = -1;

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "mpi_pingpong %d: ", rank);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  MPI_Abort(MPI_COMM_WORLD, 1);
  exit(1);
}

static phase_t parse_phase(const char *text) {
  phase_t p;
  char name[16];
  if (sscanf(text, "%15[a-z]:%ld:%ld:%ld:%ld:%ld", name, &p.size, &p.iterations, &p.warmup, &p.batches, &p.window) != 6)
    die("bad phase '%s' (want latency|bandwidth:SIZE:ITERATIONS:WARMUP:BATCHES:WINDOW)", text);
  if (strcmp(name, "latency") == 0) p.benchmark = LATENCY;
  else if (strcmp(name, "bandwidth") == 0) p.benchmark = BANDWIDTH;
  else die("bad benchmark '%s' in phase '%s'", name, text);
  if (p.size < 0 || p.iterations < 1 || p.warmup < 0 || p.batches < 1 || p.window < 1 || p.iterations % p.batches)
    die("bad numbers in phase '%s'", text);
  return p;
}

/* ---- the gate: one connected Unix socket, newline-terminated JSON both ways ---- */

static int gate_fd = -1;
static char gate_buf[4096];
static size_t gate_len = 0;

static void gate_write(const char *line) {
  size_t n = strlen(line), done = 0;
  while (done < n) {
    ssize_t w = write(gate_fd, line + done, n - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) die("writing to the bench's gate: %s", strerror(errno));
    done += (size_t)w;
  }
}

static void gate_connect(const char *path, const char *session) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof addr.sun_path) die("gate path too long: %s", path);
  if (strpbrk(session, "\"\\")) die("bad session name '%s'", session);
  strcpy(addr.sun_path, path);
  gate_fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (gate_fd < 0 || connect(gate_fd, (struct sockaddr *)&addr, sizeof addr) < 0) die("cannot connect to the bench's gate %s: %s", path, strerror(errno));
  /* With the cores this rank may run on (where mpirun bound it), as the bench's Node processes say theirs. */
  char cores[1024] = "";
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    size_t used = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE && used + 16 < sizeof cores; cpu++)
      if (CPU_ISSET(cpu, &set)) used += (size_t)snprintf(cores + used, sizeof cores - used, "%s%d", used ? "," : "", cpu);
  }
  char hello[1400];
  if (cores[0]) snprintf(hello, sizeof hello, "{\"hello\":\"%s\",\"side\":%d,\"cores\":[%s]}\n", session, rank, cores);
  else snprintf(hello, sizeof hello, "{\"hello\":\"%s\",\"side\":%d}\n", session, rank);
  gate_write(hello);
}

/* The next line from the gate (without its newline); blocks, sleeping, until one arrives. */
static const char *gate_read_line(void) {
  static char line[sizeof gate_buf];
  for (;;) {
    char *nl = memchr(gate_buf, '\n', gate_len);
    if (nl) {
      size_t n = (size_t)(nl - gate_buf);
      memcpy(line, gate_buf, n);
      line[n] = '\0';
      memmove(gate_buf, nl + 1, gate_len - n - 1);
      gate_len -= n + 1;
      return line;
    }
    if (gate_len == sizeof gate_buf) die("overlong line from the gate");
    ssize_t r = read(gate_fd, gate_buf + gate_len, sizeof gate_buf - gate_len);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) die("the bench that started this process went away");
    gate_len += (size_t)r;
  }
}

/* ---- the workload ---- */

static char *send_buf, *recv_buf;
static char ack_buf[ACK_BYTES];
static MPI_Request *requests;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void latency(long size, long count) {
  int other = 1 - rank;
  for (long i = 0; i < count; i++) {
    if (rank == 0) {
      MPI_Send(send_buf, (int)size, MPI_CHAR, other, DATA_TAG, MPI_COMM_WORLD);
      MPI_Recv(recv_buf, (int)size, MPI_CHAR, other, DATA_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    } else {
      MPI_Recv(recv_buf, (int)size, MPI_CHAR, other, DATA_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      MPI_Send(send_buf, (int)size, MPI_CHAR, other, DATA_TAG, MPI_COMM_WORLD);
    }
  }
}

/* `count` windows of `window` non-blocking sends from one buffer, each answered by a small ack. */
static void bandwidth(long size, long count, long window) {
  int other = 1 - rank;
  for (long w = 0; w < count; w++) {
    if (rank == 0) {
      for (long j = 0; j < window; j++) MPI_Isend(send_buf, (int)size, MPI_CHAR, other, DATA_TAG, MPI_COMM_WORLD, &requests[j]);
      MPI_Waitall((int)window, requests, MPI_STATUSES_IGNORE);
      MPI_Recv(ack_buf, ACK_BYTES, MPI_CHAR, other, ACK_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    } else {
      for (long j = 0; j < window; j++) MPI_Irecv(recv_buf, (int)size, MPI_CHAR, other, DATA_TAG, MPI_COMM_WORLD, &requests[j]);
      MPI_Waitall((int)window, requests, MPI_STATUSES_IGNORE);
      MPI_Send(ack_buf, ACK_BYTES, MPI_CHAR, other, ACK_TAG, MPI_COMM_WORLD);
    }
  }
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (size != 2) die("needs exactly 2 ranks, got %d", size);
  if (argc < 5) die("usage: mpi_pingpong GATE_SOCKET SESSION STEP_TIMEOUT_S PHASE...");
  unsigned timeout_s = (unsigned)strtoul(argv[3], NULL, 10);
  if (timeout_s == 0) die("bad step timeout '%s'", argv[3]);

  int nphases = argc - 4;
  phase_t *phases = calloc((size_t)nphases, sizeof *phases);
  long max_size = 0, max_window = 1;
  for (int i = 0; i < nphases; i++) {
    phases[i] = parse_phase(argv[4 + i]);
    if (phases[i].size > max_size) max_size = phases[i].size;
    if (phases[i].window > max_window) max_window = phases[i].window;
  }
  if (max_size > 0x7fffffff) die("size %ld does not fit an MPI count", max_size);
  send_buf = malloc((size_t)max_size + 1);
  recv_buf = malloc((size_t)max_size + 1);
  requests = calloc((size_t)max_window, sizeof *requests);
  if (!send_buf || !recv_buf || !requests || !phases) die("out of memory");
  memset(send_buf, 0xa5, (size_t)max_size + 1);
  memset(recv_buf, 0, (size_t)max_size + 1);

  /* Connected only once MPI_Init worked: the run is "ready" when its transports are. */
  gate_connect(argv[1], argv[2]);
  for (;;) {
    const char *line = gate_read_line();
    int p, step;
    if (strstr(line, "\"end\"")) break;
    if (sscanf(line, "{\"go\":%d,\"step\":%d}", &p, &step) != 2 || p < 0 || p >= nphases || step < 0 || step > phases[p].batches)
      die("unexpected message from the gate: %s", line);
    const phase_t *ph = &phases[p];
    long count = step == 0 ? ph->warmup : ph->iterations / ph->batches;
    alarm(timeout_s);
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = now_ms();
    if (ph->benchmark == LATENCY) latency(ph->size, count);
    else bandwidth(ph->size, count, ph->window);
    double ms = now_ms() - t0;
    alarm(0);
    if (rank == 0) {
      char report[160];
      snprintf(report, sizeof report, "{\"report\":{\"phase\":%d,\"step\":%d,\"ms\":%.6f}}\n", p, step, ms);
      gate_write(report);
    }
  }
  close(gate_fd);
  free(phases);
  free(send_buf);
  free(recv_buf);
  free(requests);
  MPI_Finalize();
  return 0;
}
