// Completion queues with a completion channel whose fd libuv watches: no thread polls. On each
// readable event: get and ack the channel events, re-arm (ibv_req_notify_cq) BEFORE draining with
// ibv_poll_cq, so a completion that lands during the drain raises a new event instead of being
// stranded, then hand the batch to JavaScript.
#include <fcntl.h>

#include <cerrno>
#include <vector>

#include "names.h"
#include "state.h"

namespace swverbs {

namespace {

constexpr int kPollBatch = 32;

Napi::Object WcToJs(Napi::Env env, const ibv_wc& wc) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("id", static_cast<double>(wc.wr_id));
  o.Set("status", WcStatusName(wc.status));
  // libibverbs: only wr_id, status, qp_num and vendor_err are valid in an error completion.
  if (wc.status == IBV_WC_SUCCESS) o.Set("opcode", WcOpcodeName(wc.opcode));
  o.Set("byteLen", wc.status == IBV_WC_SUCCESS ? wc.byte_len : 0);
  o.Set("qpn", wc.qp_num);
  o.Set("vendorErr", wc.vendor_err);
  return o;
}

void OnCqReadable(uv_poll_t* handle, int status, int /*events*/) {
  Cq* cq = static_cast<Cq*>(handle->data);
  if (cq == nullptr || status < 0) return;
  Napi::Env env(cq->env);
  Napi::HandleScope scope(env);

  ibv_cq* evCq = nullptr;
  void* evCtx = nullptr;
  unsigned events = 0;
  while (ibv_get_cq_event(cq->channel, &evCq, &evCtx) == 0) events++;  // non-blocking fd: until EAGAIN
  if (events > 0) ibv_ack_cq_events(cq->cq, events);
  if (ibv_req_notify_cq(cq->cq, 0) != 0) {
    // Cannot re-arm: completions would stop silently. Make it loud.
    Napi::Error e = Napi::Error::New(env, "ibv_req_notify_cq failed: completions on this CQ can no longer be delivered");
    napi_fatal_exception(env, e.Value());
    return;
  }

  Napi::Array batch = Napi::Array::New(env);
  ibv_wc wcs[kPollBatch];
  int n;
  do {
    n = ibv_poll_cq(cq->cq, kPollBatch, wcs);
    for (int i = 0; i < n; i++) batch.Set(batch.Length(), WcToJs(env, wcs[i]));
  } while (n == kPollBatch);
  if (n < 0) {
    Napi::Error e = Napi::Error::New(env, "ibv_poll_cq failed: the completion queue is in error");
    napi_fatal_exception(env, e.Value());
    return;
  }
  if (batch.Length() == 0) return;
  // Do not touch `cq` after this: the callback may destroy it.
  CallFromLoop(env, cq->onCompletions.Value(), cq->asyncContext, {batch});
}

// createCq(deviceId, depth, onCompletions) -> { id, depth }
Napi::Value CreateCq(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Device* dev = FindDevice(env, info[0], "ibv_create_cq");
  int depth = info[1].As<Napi::Number>().Int32Value();
  if (!info[2].IsFunction()) throw Napi::TypeError::New(env, "onCompletions must be a function");

  ibv_comp_channel* channel = ibv_create_comp_channel(dev->ctx);
  if (channel == nullptr) ThrowVerbs(env, "ibv_create_comp_channel", errno);
  int flags = fcntl(channel->fd, F_GETFL);
  if (flags < 0 || fcntl(channel->fd, F_SETFL, flags | O_NONBLOCK) < 0) {
    int err = errno;
    ibv_destroy_comp_channel(channel);
    ThrowVerbs(env, "fcntl", err, "completion channel fd");
  }
  Addon* a = GetAddon(env);
  auto cq = std::make_unique<Cq>();
  cq->id = a->NewId();
  cq->dev = dev;
  cq->env = env;
  cq->channel = channel;
  cq->cq = ibv_create_cq(dev->ctx, depth, cq.get(), channel, 0);
  if (cq->cq == nullptr) {
    int err = errno;
    ibv_destroy_comp_channel(channel);
    ThrowVerbs(env, "ibv_create_cq", err);
  }
  int rc = ibv_req_notify_cq(cq->cq, 0);
  if (rc != 0) {
    ibv_destroy_cq(cq->cq);
    ibv_destroy_comp_channel(channel);
    ThrowVerbs(env, "ibv_req_notify_cq", rc > 0 ? rc : errno);
  }
  cq->onCompletions = Napi::Persistent(info[2].As<Napi::Function>());
  cq->asyncContext = std::make_shared<Napi::AsyncContext>(env, "SwitchyardVerbsCompletions");
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  cq->poll = new uv_poll_t;
  uv_poll_init(loop, cq->poll, channel->fd);
  cq->poll->data = cq.get();
  uv_poll_start(cq->poll, UV_READABLE, OnCqReadable);

  Napi::Object out = Napi::Object::New(env);
  uint32_t id = cq->id;
  out.Set("id", id);
  out.Set("depth", cq->cq->cqe);
  a->cqs.emplace(id, std::move(cq));
  return out;
}

// cqRef(id, bool): like a Node handle's ref()/unref().
Napi::Value CqRef(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Cq* cq = FindCq(env, info[0], "ibv_create_cq");
  auto* h = reinterpret_cast<uv_handle_t*>(cq->poll);
  if (info[1].ToBoolean()) uv_ref(h);
  else uv_unref(h);
  return env.Undefined();
}

Napi::Value DestroyCqJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Addon* a = GetAddon(env);
  Cq* cq = FindCq(env, info[0], "ibv_destroy_cq");
  for (auto& [id, qp] : a->qps)
    if (qp->sendCq == cq || qp->recvCq == cq) ThrowVerbs(env, "ibv_destroy_cq", EBUSY, "queue pairs still use it");
  DestroyCq(a, cq);
  return env.Undefined();
}

}  // namespace

void DestroyCq(Addon* a, Cq* cq) {
  CloseUvPoll(cq->poll);
  cq->poll = nullptr;
  // Events read but not yet acked would make ibv_destroy_cq wait forever; we ack as we read, so
  // drain whatever arrived since the last callback and ack it too.
  ibv_cq* evCq = nullptr;
  void* evCtx = nullptr;
  unsigned events = 0;
  while (ibv_get_cq_event(cq->channel, &evCq, &evCtx) == 0) events++;
  if (events > 0) ibv_ack_cq_events(cq->cq, events);
  ibv_destroy_cq(cq->cq);
  ibv_destroy_comp_channel(cq->channel);
  a->cqs.erase(cq->id);
}

void InitCq(Napi::Env env, Napi::Object exports) {
  exports.Set("createCq", Napi::Function::New(env, CreateCq, "createCq"));
  exports.Set("cqRef", Napi::Function::New(env, CqRef, "cqRef"));
  exports.Set("destroyCq", Napi::Function::New(env, DestroyCqJs, "destroyCq"));
}

}  // namespace swverbs
