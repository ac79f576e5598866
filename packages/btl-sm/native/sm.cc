// switchyard_sm: the few system calls btl-sm needs that Node cannot make itself.
//
// Written against V8's API (not Node-API) because Node 20's Node-API cannot wrap foreign memory
// as a SharedArrayBuffer (node_api_create_sharedarraybuffer arrived in 22.21), and the rings
// need Atomics on it. The addon is therefore tied to the Node ABI and rebuilt per Node major.
//
// - segments: shm_open + mmap, exposed as a SharedArrayBuffer. The owner unlinks the name at
//   once and keeps the descriptor; peers map it through pidfd_getfd, so /dev/shm holds nothing
//   of a job at any moment a SIGKILL can land (see README, "Segments").
// - doorbells: an eventfd per process, watched by a uv_poll so the event loop sleeps in epoll;
//   peers obtain a copy of the descriptor with pidfd_getfd and write to it.
// - single copy: process_vm_readv / process_vm_writev (CMA) for the BTL's get and put; large
//   ones run on libuv's thread pool, in pieces side by side, so the event loop stays free.
#include <node.h>
#include <uv.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <memory>
#include <vector>
#include <cstdint>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sched.h>
#include <sys/uio.h>
#include <unistd.h>

namespace {

using v8::ArrayBufferView;
using v8::BigInt;
using v8::Context;
using v8::Exception;
using v8::Function;
using v8::FunctionCallbackInfo;
using v8::Global;
using v8::Integer;
using v8::Isolate;
using v8::Local;
using v8::Number;
using v8::Object;
using v8::SharedArrayBuffer;
using v8::String;
using v8::Value;

// Bumped whenever the surface below changes; src/native.ts checks it (a stale build says so).
constexpr int kAbiVersion = 4;

Local<String> Str(Isolate* isolate, const char* text) { return String::NewFromUtf8(isolate, text).ToLocalChecked(); }

// An Error carrying the failed call and errno, as Node's own system errors do.
Local<Object> ErrnoError(Isolate* isolate, const char* call, int err) {
  std::string message = std::string(call) + ": " + std::strerror(err);
  Local<Object> e = Exception::Error(Str(isolate, message.c_str())).As<Object>();
  Local<Context> context = isolate->GetCurrentContext();
  const char* name = strerrorname_np(err);
  e->Set(context, Str(isolate, "syscall"), Str(isolate, call)).Check();
  e->Set(context, Str(isolate, "errno"), Integer::New(isolate, err)).Check();
  e->Set(context, Str(isolate, "code"), Str(isolate, name != nullptr ? name : "EIO")).Check();
  return e;
}

void ThrowErrno(Isolate* isolate, const char* call, int err) { isolate->ThrowException(ErrnoError(isolate, call, err)); }

void ThrowType(Isolate* isolate, const char* message) { isolate->ThrowException(Exception::TypeError(Str(isolate, message))); }

bool IntArg(const FunctionCallbackInfo<Value>& args, int i, int64_t* out, const char* what) {
  if (!args[i]->IsNumber()) {
    ThrowType(args.GetIsolate(), what);
    return false;
  }
  *out = static_cast<int64_t>(args[i].As<Number>()->Value());
  return true;
}

int PidfdGetfd(pid_t pid, int fd) {
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) return -1;
  int local = static_cast<int>(syscall(SYS_pidfd_getfd, pidfd, fd, 0));
  int saved = errno;
  close(pidfd);
  errno = saved;
  if (local >= 0) fcntl(local, F_SETFD, FD_CLOEXEC);
  return local;
}

Local<SharedArrayBuffer> WrapMapping(Isolate* isolate, void* base, size_t size) {
  auto store = SharedArrayBuffer::NewBackingStore(
      base, size, [](void* data, size_t length, void*) { munmap(data, length); }, nullptr);
  return SharedArrayBuffer::New(isolate, std::move(store));
}

// createSegment(name, size) -> { buffer, fd }: a new segment, already unlinked.
void CreateSegment(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  int64_t size = 0;
  if (!args[0]->IsString()) return ThrowType(isolate, "createSegment: name must be a string");
  if (!IntArg(args, 1, &size, "createSegment: size must be a number")) return;
  String::Utf8Value name(isolate, args[0]);
  int fd = shm_open(*name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return ThrowErrno(isolate, "shm_open", errno);
  // Unlinked before anything else can fail or be killed: the descriptor is the segment now.
  shm_unlink(*name);
  if (ftruncate(fd, size) != 0) {
    int err = errno;
    close(fd);
    return ThrowErrno(isolate, "ftruncate", err);
  }
  // tmpfs gives a sparse file: without its pages reserved now, a full /dev/shm shows up later as
  // SIGBUS on the first write to a page it cannot supply (as Open MPI's shmem reserves them).
  int reserved = posix_fallocate(fd, 0, size);
  if (reserved != 0) {
    close(fd);
    return ThrowErrno(isolate, "posix_fallocate (is /dev/shm full?)", reserved);
  }
  void* base = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) {
    int err = errno;
    close(fd);
    return ThrowErrno(isolate, "mmap", err);
  }
  Local<Context> context = isolate->GetCurrentContext();
  Local<Object> out = Object::New(isolate);
  out->Set(context, Str(isolate, "buffer"), WrapMapping(isolate, base, size)).Check();
  out->Set(context, Str(isolate, "fd"), Integer::New(isolate, fd)).Check();
  args.GetReturnValue().Set(out);
}

// attachSegment(pid, fd, size) -> SharedArrayBuffer: maps a peer's segment through its descriptor.
void AttachSegment(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  int64_t pid = 0, fd = 0, size = 0;
  if (!IntArg(args, 0, &pid, "attachSegment: pid must be a number") || !IntArg(args, 1, &fd, "attachSegment: fd must be a number") ||
      !IntArg(args, 2, &size, "attachSegment: size must be a number"))
    return;
  int local = PidfdGetfd(static_cast<pid_t>(pid), static_cast<int>(fd));
  if (local < 0) return ThrowErrno(isolate, "pidfd_getfd", errno);
  struct stat st;
  if (fstat(local, &st) != 0 || st.st_size != size) {
    int err = errno ? errno : EINVAL;
    close(local);
    return ThrowErrno(isolate, "fstat (the peer's segment has another size)", err);
  }
  void* base = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, local, 0);
  int err = errno;
  close(local);
  if (base == MAP_FAILED) return ThrowErrno(isolate, "mmap", err);
  args.GetReturnValue().Set(WrapMapping(isolate, base, size));
}

// releaseSegment(buffer): puts private anonymous memory where a segment (created or attached
// above) was mapped. The segment's pages go at once, as at munmap, so nothing of a finalized
// module stays mapped (CRIU refuses to save a process mapping a deleted shared file), while a
// view JavaScript still holds stays safe to touch (it reads zeros) until the buffer is collected
// and its deleter unmaps the range.
void ReleaseSegment(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  if (!args[0]->IsSharedArrayBuffer()) return ThrowType(isolate, "releaseSegment: expected a segment's SharedArrayBuffer");
  std::shared_ptr<v8::BackingStore> store = args[0].As<SharedArrayBuffer>()->GetBackingStore();
  if (store->Data() == nullptr || store->ByteLength() == 0) return;
  void* again = mmap(store->Data(), store->ByteLength(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  if (again == MAP_FAILED) ThrowErrno(isolate, "mmap (releasing a segment)", errno);
}

// plainBuffer(segment) -> an ArrayBuffer over the same bytes. V8 copies to and from a
// SharedArrayBuffer with relaxed atomic accesses, byte by byte when source and target differ in
// alignment (4 KiB: 1.2 us against 0.05 us for memcpy): fragments are copied through this plain
// view, and only the rings' control words go through the shared one with Atomics, whose ordering
// covers the bytes written before and read after them. It keeps the mapping alive: the range is
// unmapped once both buffers are collected (releaseSegment leaves zeroed memory there meanwhile).
void PlainBuffer(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  if (!args[0]->IsSharedArrayBuffer()) return ThrowType(isolate, "plainBuffer: expected a segment's SharedArrayBuffer");
  auto holder = new std::shared_ptr<v8::BackingStore>(args[0].As<SharedArrayBuffer>()->GetBackingStore());
  auto store = v8::ArrayBuffer::NewBackingStore(
      (*holder)->Data(), (*holder)->ByteLength(),
      [](void*, size_t, void* data) { delete static_cast<std::shared_ptr<v8::BackingStore>*>(data); }, holder);
  args.GetReturnValue().Set(v8::ArrayBuffer::New(isolate, std::move(store)));
}

// peerFd(pid, fd) -> a local copy of another process's descriptor (a peer's doorbell).
void PeerFd(const FunctionCallbackInfo<Value>& args) {
  int64_t pid = 0, fd = 0;
  if (!IntArg(args, 0, &pid, "peerFd: pid must be a number") || !IntArg(args, 1, &fd, "peerFd: fd must be a number")) return;
  int local = PidfdGetfd(static_cast<pid_t>(pid), static_cast<int>(fd));
  if (local < 0) return ThrowErrno(args.GetIsolate(), "pidfd_getfd", errno);
  args.GetReturnValue().Set(local);
}

void Ring(const FunctionCallbackInfo<Value>& args) {
  int64_t fd = 0;
  if (!IntArg(args, 0, &fd, "ring: fd must be a number")) return;
  uint64_t one = 1;
  // EAGAIN means the counter is saturated: the peer has a wake-up pending anyway.
  if (write(static_cast<int>(fd), &one, sizeof one) < 0 && errno != EAGAIN) ThrowErrno(args.GetIsolate(), "write (doorbell)", errno);
}

void CloseFd(const FunctionCallbackInfo<Value>& args) {
  int64_t fd = 0;
  if (!IntArg(args, 0, &fd, "closeFd: fd must be a number")) return;
  close(static_cast<int>(fd));
}

// A doorbell this process sleeps on: an eventfd in the event loop's epoll set.
struct Doorbell {
  uv_poll_t poll;
  int fd;
  Isolate* isolate;
  Global<Function> callback;
  Global<Object> receiver;
  bool closed = false;
};

void OnDoorbell(uv_poll_t* handle, int status, int events) {
  Doorbell* bell = static_cast<Doorbell*>(handle->data);
  if (bell == nullptr || bell->closed) return;
  uint64_t count;
  while (read(bell->fd, &count, sizeof count) > 0) {
  }
  Isolate* isolate = bell->isolate;
  v8::HandleScope scope(isolate);
  Local<Object> receiver = bell->receiver.Get(isolate);
  Local<Context> context = receiver->GetCreationContextChecked();
  Context::Scope context_scope(context);
  // MakeCallback runs the nextTick and microtask queues afterwards, as for Node's own I/O.
  node::MakeCallback(isolate, receiver, bell->callback.Get(isolate), 0, nullptr, {0, 0});
}

void CloseDoorbellNative(Doorbell* bell) {
  if (bell->closed) return;
  bell->closed = true;
  // uv_poll_stop takes the descriptor out of epoll, so it can be closed now rather than in the
  // close callback: whoever closed the doorbell sees its descriptor gone when close() returns.
  uv_poll_stop(&bell->poll);
  close(bell->fd);
  bell->fd = -1;
  bell->callback.Reset();
  bell->receiver.Reset();
  uv_close(reinterpret_cast<uv_handle_t*>(&bell->poll), [](uv_handle_t* h) { delete static_cast<Doorbell*>(h->data); });
}

template <bool kRef>
void SetDoorbellRef(const FunctionCallbackInfo<Value>& args) {
  Doorbell* bell = static_cast<Doorbell*>(args.Data().As<v8::External>()->Value());
  if (bell->closed) return;
  if (kRef)
    uv_ref(reinterpret_cast<uv_handle_t*>(&bell->poll));
  else
    uv_unref(reinterpret_cast<uv_handle_t*>(&bell->poll));
}

// openDoorbell(callback) -> { fd, close(), ref(), unref() }
void OpenDoorbell(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  if (!args[0]->IsFunction()) return ThrowType(isolate, "openDoorbell: callback must be a function");
  int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) return ThrowErrno(isolate, "eventfd", errno);
  Doorbell* bell = new Doorbell();
  bell->fd = fd;
  bell->isolate = isolate;
  bell->poll.data = bell;
  uv_loop_t* loop = node::GetCurrentEventLoop(isolate);
  int rc = uv_poll_init(loop, &bell->poll, fd);
  if (rc == 0) rc = uv_poll_start(&bell->poll, UV_READABLE, OnDoorbell);
  if (rc != 0) {
    close(fd);
    delete bell;
    return ThrowErrno(isolate, "uv_poll_start", -rc);
  }
  Local<Context> context = isolate->GetCurrentContext();
  Local<Object> out = Object::New(isolate);
  bell->callback.Reset(isolate, args[0].As<Function>());
  bell->receiver.Reset(isolate, out);
  Local<v8::External> data = v8::External::New(isolate, bell);
  Local<Function> closer =
      Function::New(context,
                    [](const FunctionCallbackInfo<Value>& a) { CloseDoorbellNative(static_cast<Doorbell*>(a.Data().As<v8::External>()->Value())); },
                    data)
          .ToLocalChecked();
  // ref()/unref(): whether a sleeping doorbell keeps the event loop (and the process) alive;
  // the soft verbs device holds the loop only while a completion queue is ref'd.
  Local<Function> refer = Function::New(context, SetDoorbellRef<true>, data).ToLocalChecked();
  Local<Function> unrefer = Function::New(context, SetDoorbellRef<false>, data).ToLocalChecked();
  out->Set(context, Str(isolate, "fd"), Integer::New(isolate, fd)).Check();
  out->Set(context, Str(isolate, "close"), closer).Check();
  out->Set(context, Str(isolate, "ref"), refer).Check();
  out->Set(context, Str(isolate, "unref"), unrefer).Check();
  args.GetReturnValue().Set(out);
}

bool ViewMemory(const FunctionCallbackInfo<Value>& args, int i, char** data, size_t* length) {
  if (!args[i]->IsArrayBufferView()) {
    ThrowType(args.GetIsolate(), "expected a TypedArray or DataView");
    return false;
  }
  Local<ArrayBufferView> view = args[i].As<ArrayBufferView>();
  // Buffer() moves a small on-heap typed array off the heap, so the address stays valid.
  auto store = view->Buffer()->GetBackingStore();
  *data = static_cast<char*>(store->Data()) + view->ByteOffset();
  *length = view->ByteLength();
  return true;
}

bool AddressArg(const FunctionCallbackInfo<Value>& args, int i, uint64_t* out) {
  if (!args[i]->IsBigInt()) {
    ThrowType(args.GetIsolate(), "address must be a bigint");
    return false;
  }
  bool lossless = true;
  *out = args[i].As<BigInt>()->Uint64Value(&lossless);
  if (!lossless) ThrowType(args.GetIsolate(), "address does not fit in 64 bits");
  return lossless;
}

// addressOf(view) -> bigint: where the view's bytes are in this process (for a peer's CMA).
void AddressOf(const FunctionCallbackInfo<Value>& args) {
  char* data;
  size_t length;
  if (!ViewMemory(args, 0, &data, &length)) return;
  args.GetReturnValue().Set(BigInt::NewFromUnsigned(args.GetIsolate(), reinterpret_cast<uint64_t>(data)));
}

// One process_vm_readv / writev of `length` bytes, resumed on short transfers: 0 or an errno.
int CmaCopy(bool write, pid_t pid, char* data, uint64_t address, size_t length) {
  size_t done = 0;
  while (done < length) {
    struct iovec local = {data + done, length - done};
    struct iovec remote = {reinterpret_cast<void*>(address + done), length - done};
    ssize_t n = write ? process_vm_writev(pid, &local, 1, &remote, 1, 0) : process_vm_readv(pid, &local, 1, &remote, 1, 0);
    if (n < 0) return errno;
    if (n == 0) return EFAULT;
    done += static_cast<size_t>(n);
  }
  return 0;
}

const char* CmaCall(bool write) { return write ? "process_vm_writev" : "process_vm_readv"; }

// cma(write, pid, address, view) -> bytes moved, on the calling thread.
void Cma(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  bool write = args[0]->IsTrue();
  int64_t pid = 0;
  uint64_t address = 0;
  char* data;
  size_t length;
  if (!IntArg(args, 1, &pid, "cma: pid must be a number") || !AddressArg(args, 2, &address) || !ViewMemory(args, 3, &data, &length)) return;
  int err = CmaCopy(write, static_cast<pid_t>(pid), data, address, length);
  if (err != 0) return ThrowErrno(isolate, CmaCall(write), err);
  args.GetReturnValue().Set(Number::New(isolate, static_cast<double>(length)));
}

// A copy run on libuv's thread pool, in pieces that run side by side; the callback runs on the
// loop once every piece is done. The backing store keeps the local memory alive meanwhile.
struct CmaJob {
  Isolate* isolate;
  bool write;
  pid_t pid;
  char* data;
  uint64_t address;
  size_t length;
  std::shared_ptr<v8::BackingStore> store;
  Global<Function> callback;
  int pending = 0;
  std::atomic<int> error{0};
};

struct CmaPiece {
  uv_work_t work;
  CmaJob* job;
  size_t offset;
  size_t length;
};

void OnCmaPiece(uv_work_t* work) {
  CmaPiece* piece = static_cast<CmaPiece*>(work->data);
  CmaJob* job = piece->job;
  int err = CmaCopy(job->write, job->pid, job->data + piece->offset, job->address + piece->offset, piece->length);
  int none = 0;
  if (err != 0) job->error.compare_exchange_strong(none, err);
}

void AfterCmaPiece(uv_work_t* work, int status) {
  CmaPiece* piece = static_cast<CmaPiece*>(work->data);
  CmaJob* job = piece->job;
  delete piece;
  if (--job->pending > 0) return;
  Isolate* isolate = job->isolate;
  v8::HandleScope scope(isolate);
  Local<Function> callback = job->callback.Get(isolate);
  Local<Context> context = callback->GetCreationContextChecked();
  Context::Scope context_scope(context);
  int err = job->error.load();
  Local<Value> argv[2] = {err != 0 ? Local<Value>(ErrnoError(isolate, CmaCall(job->write), err)) : Local<Value>(v8::Null(isolate)),
                          Number::New(isolate, err != 0 ? 0 : static_cast<double>(job->length))};
  job->callback.Reset();
  delete job;
  // MakeCallback runs the nextTick and microtask queues afterwards, as for Node's own I/O.
  node::MakeCallback(isolate, callback, callback, 2, argv, {0, 0});
}

// cmaAsync(write, pid, address, view, pieces, callback(error, bytes)): the copy off the event loop.
void CmaAsync(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  int64_t pid = 0;
  int64_t pieces = 1;
  uint64_t address = 0;
  char* data;
  size_t length;
  if (!IntArg(args, 1, &pid, "cmaAsync: pid must be a number") || !AddressArg(args, 2, &address) || !ViewMemory(args, 3, &data, &length) ||
      !IntArg(args, 4, &pieces, "cmaAsync: pieces must be a number"))
    return;
  if (!args[5]->IsFunction()) return ThrowType(isolate, "cmaAsync: callback must be a function");
  if (pieces < 1) pieces = 1;
  if (static_cast<size_t>(pieces) > length) pieces = length > 0 ? static_cast<int64_t>(length) : 1;
  CmaJob* job = new CmaJob();
  job->isolate = isolate;
  job->write = args[0]->IsTrue();
  job->pid = static_cast<pid_t>(pid);
  job->data = data;
  job->address = address;
  job->length = length;
  job->store = args[3].As<ArrayBufferView>()->Buffer()->GetBackingStore();
  job->callback.Reset(isolate, args[5].As<Function>());
  job->pending = static_cast<int>(pieces);
  uv_loop_t* loop = node::GetCurrentEventLoop(isolate);
  // Pieces of whole pages (but the last), so no two threads touch one page.
  size_t step = ((length / static_cast<size_t>(pieces)) + 4095) & ~static_cast<size_t>(4095);
  if (step == 0) step = length;
  size_t offset = 0;
  for (int64_t i = 0; i < pieces; i++) {
    CmaPiece* piece = new CmaPiece();
    piece->job = job;
    piece->offset = offset < length ? offset : length;
    piece->length = i + 1 == pieces ? length - piece->offset : std::min(step, length - piece->offset);
    offset += piece->length;
    piece->work.data = piece;
    uv_queue_work(loop, &piece->work, OnCmaPiece, AfterCmaPiece);
  }
}

// yield(): gives the core to another runnable process, if any (Open MPI's yield_when_idle): a
// rank that polls must not keep the rank it waits for off a shared core.
void Yield(const FunctionCallbackInfo<Value>& args) { sched_yield(); }

}  // namespace

NODE_MODULE_INIT(/* exports, module, context */) {
  Isolate* isolate = context->GetIsolate();
  auto set = [&](const char* name, v8::FunctionCallback fn) {
    exports->Set(context, Str(isolate, name), Function::New(context, fn).ToLocalChecked()).Check();
  };
  exports->Set(context, Str(isolate, "abiVersion"), Integer::New(isolate, kAbiVersion)).Check();
  set("createSegment", CreateSegment);
  set("attachSegment", AttachSegment);
  set("releaseSegment", ReleaseSegment);
  set("plainBuffer", PlainBuffer);
  set("peerFd", PeerFd);
  set("ring", Ring);
  set("closeFd", CloseFd);
  set("openDoorbell", OpenDoorbell);
  set("addressOf", AddressOf);
  set("cma", Cma);
  set("cmaAsync", CmaAsync);
  set("yield", Yield);
}
