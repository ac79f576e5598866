/*
 * pmix_addon.c - a Node-API binding to the PMIx client library (libpmix).
 *
 * Init, put, commit, abort and finalize are blocking: they are local or happen once. Fence and
 * get may wait on every rank of the job, so they use PMIx_Fence_nb / PMIx_Get_nb and report back
 * on the JS thread through a threadsafe function: PMIx calls back on its own progress thread,
 * which must never touch JS values.
 */
#include <node_api.h>
#include <pmix.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bumped when the JS side and this file must change together (a stale build is refused). */
#define ABI_VERSION 1

static pmix_proc_t me;
static int initialized = 0;

/* ---- helpers ----------------------------------------------------------------------------- */

static napi_value throw_status(napi_env env, const char *what, pmix_status_t rc) {
  char message[256];
  snprintf(message, sizeof message, "%s: %s", what, PMIx_Error_string(rc));
  napi_value msg, code, error;
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg);
  napi_create_string_utf8(env, PMIx_Error_string(rc), NAPI_AUTO_LENGTH, &code);
  napi_create_error(env, NULL, msg, &error);
  napi_set_named_property(env, error, "pmixStatus", code);
  napi_throw(env, error);
  return NULL;
}

static napi_value throw_usage(napi_env env, const char *message) {
  napi_throw_type_error(env, NULL, message);
  return NULL;
}

static int require_init(napi_env env) {
  if (initialized) return 1;
  napi_throw_error(env, NULL, "PMIx is not initialized (call init() first)");
  return 0;
}

/* The call's first `n` arguments into argv, once PMIx is up; 0 (and a thrown error) otherwise. */
static int call_args(napi_env env, napi_callback_info info, size_t n, napi_value *argv, const char *usage) {
  size_t argc = n;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < n) {
    throw_usage(env, usage);
    return 0;
  }
  return require_init(env);
}

static void set_uint(napi_env env, napi_value obj, const char *name, uint32_t value) {
  napi_value v;
  napi_create_uint32(env, value, &v);
  napi_set_named_property(env, obj, name, v);
}

static void set_string(napi_env env, napi_value obj, const char *name, const char *value) {
  napi_value v;
  napi_create_string_utf8(env, value, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, name, v);
}

/* A key from JS: a string of at most PMIX_MAX_KEYLEN bytes; 0 (and a thrown error) otherwise. */
static int read_key(napi_env env, napi_value value, char key[PMIX_MAX_KEYLEN + 1]) {
  size_t length = 0;
  if (napi_get_value_string_utf8(env, value, NULL, 0, &length) != napi_ok) {
    throw_usage(env, "the key must be a string");
    return 0;
  }
  if (length == 0 || length > PMIX_MAX_KEYLEN) {
    char message[96];
    snprintf(message, sizeof message, "the key must be 1 to %d bytes long, got %zu", PMIX_MAX_KEYLEN, length);
    throw_usage(env, message);
    return 0;
  }
  napi_get_value_string_utf8(env, value, key, PMIX_MAX_KEYLEN + 1, &length);
  return 1;
}

/* Job-level data (rank wildcard) or this process's own, as a number; `fallback` when absent. */
static uint32_t get_uint(const pmix_proc_t *proc, const char *key, uint32_t fallback) {
  pmix_value_t *v = NULL;
  uint32_t out = fallback;
  if (PMIx_Get(proc, key, NULL, 0, &v) != PMIX_SUCCESS || v == NULL) return fallback;
  switch (v->type) {
    case PMIX_UINT32: out = v->data.uint32; break;
    case PMIX_UINT16: out = v->data.uint16; break;
    case PMIX_INT: out = (uint32_t)v->data.integer; break;
    default: break;
  }
  PMIX_VALUE_RELEASE(v);
  return out;
}

/* A string datum, or NULL; the caller frees it. */
static char *get_string(const pmix_proc_t *proc, const char *key) {
  pmix_value_t *v = NULL;
  char *out = NULL;
  if (PMIx_Get(proc, key, NULL, 0, &v) != PMIX_SUCCESS || v == NULL) return NULL;
  if (v->type == PMIX_STRING && v->data.string) out = strdup(v->data.string);
  PMIX_VALUE_RELEASE(v);
  return out;
}

/* ---- init / put / commit / abort / finalize --------------------------------------------------- */

/* init() -> { rank, size, localRank, localSize, localPeers, nodeName, nspace, jobId, version } */
static napi_value js_init(napi_env env, napi_callback_info info) {
  if (!initialized) {
    pmix_status_t rc = PMIx_Init(&me, NULL, 0);
    if (rc != PMIX_SUCCESS) return throw_status(env, "PMIx_Init", rc);
    initialized = 1;
  }
  pmix_proc_t job;
  PMIX_LOAD_PROCID(&job, me.nspace, PMIX_RANK_WILDCARD);
  napi_value out;
  napi_create_object(env, &out);
  set_uint(env, out, "rank", me.rank);
  set_uint(env, out, "size", get_uint(&job, PMIX_JOB_SIZE, 0));
  set_uint(env, out, "localRank", get_uint(&me, PMIX_LOCAL_RANK, 0));
  set_uint(env, out, "localSize", get_uint(&job, PMIX_LOCAL_SIZE, 1));
  set_string(env, out, "nspace", me.nspace);
  set_string(env, out, "version", PMIx_Get_version());
  char *peers = get_string(&job, PMIX_LOCAL_PEERS);
  set_string(env, out, "localPeers", peers ? peers : "");
  free(peers);
  char *node = get_string(&me, PMIX_HOSTNAME);
  set_string(env, out, "nodeName", node ? node : "");
  free(node);
  char *jobid = get_string(&job, PMIX_JOBID);
  set_string(env, out, "jobId", jobid ? jobid : me.nspace);
  free(jobid);
  return out;
}

/* put(key, string | Buffer): global scope, visible to every rank after commit and fence. */
static napi_value js_put(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!call_args(env, info, 2, argv, "put(key, value) needs two arguments")) return NULL;
  char key[PMIX_MAX_KEYLEN + 1];
  if (!read_key(env, argv[0], key)) return NULL;
  pmix_value_t value;
  PMIX_VALUE_CONSTRUCT(&value);
  bool is_buffer = false;
  napi_is_buffer(env, argv[1], &is_buffer);
  char *text = NULL;
  if (is_buffer) {
    void *data;
    size_t length;
    napi_get_buffer_info(env, argv[1], &data, &length);
    value.type = PMIX_BYTE_OBJECT;
    value.data.bo.bytes = (char *)data;
    value.data.bo.size = length;
  } else {
    size_t length = 0;
    if (napi_get_value_string_utf8(env, argv[1], NULL, 0, &length) != napi_ok) {
      return throw_usage(env, "put: the value must be a string or a Buffer");
    }
    text = malloc(length + 1);
    napi_get_value_string_utf8(env, argv[1], text, length + 1, &length);
    value.type = PMIX_STRING;
    value.data.string = text;
  }
  /* PMIx_Put copies the value. */
  pmix_status_t rc = PMIx_Put(PMIX_GLOBAL, key, &value);
  free(text);
  if (rc != PMIX_SUCCESS) return throw_status(env, "PMIx_Put", rc);
  return NULL;
}

static napi_value js_commit(napi_env env, napi_callback_info info) {
  if (!require_init(env)) return NULL;
  pmix_status_t rc = PMIx_Commit();
  if (rc != PMIX_SUCCESS) return throw_status(env, "PMIx_Commit", rc);
  return NULL;
}

/* abort(status, message): the launcher ends the whole job. */
static napi_value js_abort(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (!require_init(env)) return NULL;
  int32_t status = 1;
  char message[1024] = "";
  size_t length;
  if (argc > 0) napi_get_value_int32(env, argv[0], &status);
  if (argc > 1) napi_get_value_string_utf8(env, argv[1], message, sizeof message, &length);
  pmix_status_t rc = PMIx_Abort(status, message, NULL, 0);
  if (rc != PMIX_SUCCESS) return throw_status(env, "PMIx_Abort", rc);
  return NULL;
}

static napi_value js_finalize(napi_env env, napi_callback_info info) {
  if (!initialized) return NULL;
  initialized = 0;
  pmix_status_t rc = PMIx_Finalize(NULL, 0);
  if (rc != PMIX_SUCCESS) return throw_status(env, "PMIx_Finalize", rc);
  return NULL;
}

static napi_value js_initialized(napi_env env, napi_callback_info info) {
  napi_value out;
  napi_get_boolean(env, initialized, &out);
  return out;
}

/* ---- fence / get: non-blocking, completed on the JS thread ------------------------------------ */

typedef struct {
  napi_threadsafe_function tsfn;
  const char *what;
  pmix_status_t status;
  pmix_info_t *info;
  /* get only: a copy of the value, made on the PMIx thread (PMIx frees its own after the callback). */
  int kind; /* 0 none, 1 string, 2 bytes */
  char *bytes;
  size_t size;
} operation;

static void free_operation(operation *op) {
  if (op->info) PMIX_INFO_FREE(op->info, 1);
  free(op->bytes);
  free(op);
}

/* On the JS thread: callback(error) or callback(null, value). */
static void complete_on_js(napi_env env, napi_value callback, void *context, void *data) {
  operation *op = data;
  if (env != NULL) {
    napi_value argv[2], undefined;
    napi_get_undefined(env, &undefined);
    napi_get_null(env, &argv[0]);
    argv[1] = undefined;
    if (op->status != PMIX_SUCCESS) {
      char message[256];
      snprintf(message, sizeof message, "%s: %s", op->what, PMIx_Error_string(op->status));
      napi_value msg, code;
      napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg);
      napi_create_string_utf8(env, PMIx_Error_string(op->status), NAPI_AUTO_LENGTH, &code);
      napi_create_error(env, NULL, msg, &argv[0]);
      napi_set_named_property(env, argv[0], "pmixStatus", code);
    } else if (op->kind == 1) {
      napi_create_string_utf8(env, op->bytes, op->size, &argv[1]);
    } else if (op->kind == 2) {
      napi_create_buffer_copy(env, op->size, op->bytes ? op->bytes : "", NULL, &argv[1]);
    }
    napi_call_function(env, undefined, callback, 2, argv, NULL);
  }
  free_operation(op);
}

static void hand_back(operation *op) {
  napi_threadsafe_function tsfn = op->tsfn;
  napi_call_threadsafe_function(tsfn, op, napi_tsfn_blocking);
  napi_release_threadsafe_function(tsfn, napi_tsfn_release);
}

static void fence_done(pmix_status_t status, void *cbdata) {
  operation *op = cbdata;
  op->status = status;
  hand_back(op);
}

static void get_done(pmix_status_t status, pmix_value_t *kv, void *cbdata) {
  operation *op = cbdata;
  op->status = status;
  if (status == PMIX_SUCCESS && kv != NULL) {
    if (kv->type == PMIX_STRING && kv->data.string) {
      op->kind = 1;
      op->size = strlen(kv->data.string);
      op->bytes = strdup(kv->data.string);
    } else if (kv->type == PMIX_BYTE_OBJECT) {
      op->kind = 2;
      op->size = kv->data.bo.size;
      op->bytes = malloc(op->size ? op->size : 1);
      if (op->size) memcpy(op->bytes, kv->data.bo.bytes, op->size);
    } else {
      op->status = PMIX_ERR_TYPE_MISMATCH;
    }
  }
  hand_back(op);
}

static operation *new_operation(napi_env env, napi_value callback, const char *what) {
  napi_valuetype type;
  napi_typeof(env, callback, &type);
  if (type != napi_function) {
    throw_usage(env, "the last argument must be a callback function");
    return NULL;
  }
  operation *op = calloc(1, sizeof *op);
  op->what = what;
  napi_value name;
  napi_create_string_utf8(env, what, NAPI_AUTO_LENGTH, &name);
  napi_create_threadsafe_function(env, callback, NULL, name, 0, 1, NULL, NULL, NULL, complete_on_js, &op->tsfn);
  return op;
}

/* The call did not start: nothing will call back, so undo and throw. */
static napi_value not_started(napi_env env, operation *op, pmix_status_t rc) {
  napi_release_threadsafe_function(op->tsfn, napi_tsfn_abort);
  const char *what = op->what;
  free_operation(op);
  return throw_status(env, what, rc);
}

/* fence(collect, callback): every rank of the namespace; with collect, the put data travels too. */
static napi_value js_fence(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!call_args(env, info, 2, argv, "fence(collect, callback) needs two arguments")) return NULL;
  bool collect = false;
  napi_get_value_bool(env, argv[0], &collect);
  operation *op = new_operation(env, argv[1], "PMIx_Fence_nb");
  if (!op) return NULL;
  PMIX_INFO_CREATE(op->info, 1);
  PMIX_INFO_LOAD(&op->info[0], PMIX_COLLECT_DATA, &collect, PMIX_BOOL);
  pmix_status_t rc = PMIx_Fence_nb(NULL, 0, op->info, 1, fence_done, op);
  if (rc != PMIX_SUCCESS) return not_started(env, op, rc);
  return NULL;
}

/* get(rank, key, callback): what `rank` put under `key`, as a string or a Buffer. */
static napi_value js_get(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!call_args(env, info, 3, argv, "get(rank, key, callback) needs three arguments")) return NULL;
  uint32_t rank;
  if (napi_get_value_uint32(env, argv[0], &rank) != napi_ok) return throw_usage(env, "get: the rank must be a number");
  char key[PMIX_MAX_KEYLEN + 1];
  if (!read_key(env, argv[1], key)) return NULL;
  operation *op = new_operation(env, argv[2], "PMIx_Get_nb");
  if (!op) return NULL;
  pmix_proc_t proc;
  PMIX_LOAD_PROCID(&proc, me.nspace, rank);
  pmix_status_t rc = PMIx_Get_nb(&proc, key, NULL, 0, get_done, op);
  if (rc != PMIX_SUCCESS) return not_started(env, op, rc);
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor properties[] = {
    { "init", NULL, js_init, NULL, NULL, NULL, napi_enumerable, NULL },
    { "put", NULL, js_put, NULL, NULL, NULL, napi_enumerable, NULL },
    { "commit", NULL, js_commit, NULL, NULL, NULL, napi_enumerable, NULL },
    { "fence", NULL, js_fence, NULL, NULL, NULL, napi_enumerable, NULL },
    { "get", NULL, js_get, NULL, NULL, NULL, napi_enumerable, NULL },
    { "abort", NULL, js_abort, NULL, NULL, NULL, napi_enumerable, NULL },
    { "finalize", NULL, js_finalize, NULL, NULL, NULL, napi_enumerable, NULL },
    { "initialized", NULL, js_initialized, NULL, NULL, NULL, napi_enumerable, NULL },
  };
  napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties);
  napi_value abi;
  napi_create_uint32(env, ABI_VERSION, &abi);
  napi_set_named_property(env, exports, "abiVersion", abi);
  return exports;
}
