/*
 * The Open MPI baseline of `switchyard bench coll`: the same collectives, sizes and method as
 * Switchyard's rank program (src/coll/rank.ts), with Open MPI's own collective selection (tuned).
 *
 *   mpi_coll ITERATIONS_SCALE COLL:SIZE[,COLL:SIZE...]
 *
 * SIZE is bytes per rank: the buffer for allreduce (doubles, MPI_SUM) and bcast; each rank's
 * block for allgather; the block to each rank for alltoall. Per case: a tenth of the iterations
 * as warm-up, then BATCHES batches, each after a barrier; a batch's time is the slowest rank's
 * (MPI_MAX); rank 0 prints the median batch as `COLL {"coll":..,"size":..,"np":..,"us":..}`.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCHES 5
/* As src/coll/rank.ts: 8-byte allreduces before the first case (Switchyard's JIT warms up). */
#define WARMUP_OPS 2000

static int iterations(long size, double scale) {
  int base = size <= 1024 ? 1000 : size <= 65536 ? 100 : 10;
  int n = (int)(base * scale);
  return n < BATCHES ? BATCHES : n;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void run(const char *coll, long size, int np, char *send, char *recv) {
  if (!strcmp(coll, "allreduce"))
    MPI_Allreduce(send, recv, (int)(size / 8), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  else if (!strcmp(coll, "bcast"))
    MPI_Bcast(send, (int)size, MPI_BYTE, 0, MPI_COMM_WORLD);
  else if (!strcmp(coll, "allgather"))
    MPI_Allgather(send, (int)size, MPI_BYTE, recv, (int)size, MPI_BYTE, MPI_COMM_WORLD);
  else if (!strcmp(coll, "alltoall"))
    MPI_Alltoall(send, (int)size, MPI_BYTE, recv, (int)size, MPI_BYTE, MPI_COMM_WORLD);
  else {
    fprintf(stderr, "mpi_coll: unknown collective %s\n", coll);
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  (void)np;
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank, np;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &np);
  if (argc != 3) {
    if (rank == 0) fprintf(stderr, "mpi_coll: usage: mpi_coll ITERATIONS_SCALE COLL:SIZE[,COLL:SIZE...]\n");
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  double one = 1;
  for (int i = 0; i < WARMUP_OPS; i++) MPI_Allreduce(MPI_IN_PLACE, &one, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  double scale = atof(argv[1]);
  char *list = strdup(argv[2]);
  for (char *item = strtok(list, ","); item; item = strtok(NULL, ",")) {
    char coll[32];
    long size;
    if (sscanf(item, "%31[a-z]:%ld", coll, &size) != 2) {
      if (rank == 0) fprintf(stderr, "mpi_coll: bad case %s\n", item);
      MPI_Abort(MPI_COMM_WORLD, 2);
    }
    size_t bytes = (size_t)size * (size_t)np;
    char *send = malloc(bytes ? bytes : 1), *recv = malloc(bytes ? bytes : 1);
    memset(send, 1, bytes);
    memset(recv, 0, bytes);
    int n = iterations(size, scale), per = n / BATCHES;
    for (int i = 0; i < (n / 10 > 0 ? n / 10 : 1); i++) run(coll, size, np, send, recv);
    double batches[BATCHES];
    for (int b = 0; b < BATCHES; b++) {
      MPI_Barrier(MPI_COMM_WORLD);
      double t0 = MPI_Wtime();
      for (int i = 0; i < per; i++) run(coll, size, np, send, recv);
      double mine = (MPI_Wtime() - t0) / per, slowest;
      MPI_Allreduce(&mine, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
      batches[b] = slowest;
    }
    qsort(batches, BATCHES, sizeof(double), cmp);
    if (rank == 0) printf("COLL {\"coll\":\"%s\",\"size\":%ld,\"np\":%d,\"us\":%.3f}\n", coll, size, np, batches[BATCHES / 2] * 1e6);
    fflush(stdout);
    free(send);
    free(recv);
  }
  free(list);
  MPI_Finalize();
  return 0;
}
