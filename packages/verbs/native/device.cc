// Devices and ports: listing (ibv_get_device_list, ibv_query_device/port/gid), opening and
// closing a context, and the context's asynchronous events (its async fd watched by uv_poll).
#include <fcntl.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <endian.h>

#include "names.h"
#include "state.h"

namespace swverbs {

namespace {

// Frees the list however the function exits (throws included).
struct DeviceList {
  ibv_device** list = nullptr;
  int count = 0;
  ~DeviceList() {
    if (list != nullptr) ibv_free_device_list(list);
  }
};

// Returns false when the machine has no verbs support at all: that is "no device", not an error.
bool GetDeviceList(Napi::Env env, DeviceList* out) {
  errno = 0;
  out->list = ibv_get_device_list(&out->count);
  if (out->list != nullptr) return true;
  // ENOSYS: no kernel uverbs support (no RDMA hardware or module). Anything else is a real error.
  if (errno == ENOSYS || errno == 0) return false;
  ThrowVerbs(env, "ibv_get_device_list", errno);
}

std::string FormatGid(const ibv_gid& gid) {
  char buf[40];
  const uint8_t* r = gid.raw;
  std::snprintf(buf, sizeof buf, "%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x", r[0], r[1], r[2], r[3], r[4],
                r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15]);
  return buf;
}

std::string FormatGuid(__be64 guid) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016" PRIx64, static_cast<uint64_t>(be64toh(guid)));
  return buf;
}

Napi::Object PortInfo(Napi::Env env, ibv_context* ctx, uint8_t port) {
  ibv_port_attr pa{};
  int rc = ibv_query_port(ctx, port, &pa);
  if (rc != 0) ThrowVerbs(env, "ibv_query_port", rc > 0 ? rc : errno);
  ibv_gid gid{};
  rc = ibv_query_gid(ctx, port, 0, &gid);
  if (rc != 0) ThrowVerbs(env, "ibv_query_gid", rc > 0 ? rc : errno);
  static const int mtuBytes[] = {0, 256, 512, 1024, 2048, 4096};
  int mtu = pa.active_mtu >= 1 && pa.active_mtu <= 5 ? mtuBytes[pa.active_mtu] : 0;
  Napi::Object o = Napi::Object::New(env);
  o.Set("port", port);
  o.Set("state", PortStateName(pa.state));
  o.Set("lid", pa.lid);
  o.Set("gid", FormatGid(gid));
  o.Set("mtu", mtu);
  o.Set("linkLayer", LinkLayerName(pa.link_layer));
  return o;
}

// Describes an open context: name, node GUID, and every physical port.
Napi::Object DescribeContext(Napi::Env env, ibv_context* ctx, const char* name) {
  ibv_device_attr attr{};
  int rc = ibv_query_device(ctx, &attr);
  if (rc != 0) ThrowVerbs(env, "ibv_query_device", rc > 0 ? rc : errno);
  Napi::Array ports = Napi::Array::New(env, attr.phys_port_cnt);
  for (uint8_t p = 1; p <= attr.phys_port_cnt; p++) ports.Set(p - 1, PortInfo(env, ctx, p));
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", name);
  o.Set("guid", FormatGuid(attr.node_guid));
  o.Set("ports", ports);
  return o;
}

// listDevices(): [{ name, guid, ports: [...] }]; [] without devices.
Napi::Value ListDevices(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env);
  DeviceList dl;
  if (!GetDeviceList(env, &dl)) return out;
  for (int i = 0; i < dl.count; i++) {
    const char* name = ibv_get_device_name(dl.list[i]);
    ibv_context* ctx = ibv_open_device(dl.list[i]);
    if (ctx == nullptr) ThrowVerbs(env, "ibv_open_device", errno, name);
    try {
      out.Set(out.Length(), DescribeContext(env, ctx, name));
    } catch (...) {
      ibv_close_device(ctx);
      throw;
    }
    ibv_close_device(ctx);
  }
  return out;
}

void OnAsyncReadable(uv_poll_t* handle, int status, int /*events*/) {
  Device* dev = static_cast<Device*>(handle->data);
  if (dev == nullptr || status < 0) return;
  Napi::Env env(dev->env);
  Napi::HandleScope scope(env);
  std::vector<Napi::Object> events;
  ibv_async_event ev;
  // The fd is non-blocking: read until EAGAIN. Ack each event at once: ibv_destroy_qp/cq wait
  // for their events to be acked.
  while (ibv_get_async_event(dev->ctx, &ev) == 0) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("type", AsyncEventName(ev.event_type));
    switch (ev.event_type) {
      case IBV_EVENT_QP_FATAL:
      case IBV_EVENT_QP_REQ_ERR:
      case IBV_EVENT_QP_ACCESS_ERR:
      case IBV_EVENT_COMM_EST:
      case IBV_EVENT_SQ_DRAINED:
      case IBV_EVENT_PATH_MIG:
      case IBV_EVENT_PATH_MIG_ERR:
      case IBV_EVENT_QP_LAST_WQE_REACHED:
        o.Set("qpn", ev.element.qp->qp_num);
        break;
      case IBV_EVENT_PORT_ACTIVE:
      case IBV_EVENT_PORT_ERR:
      case IBV_EVENT_LID_CHANGE:
      case IBV_EVENT_PKEY_CHANGE:
      case IBV_EVENT_SM_CHANGE:
      case IBV_EVENT_CLIENT_REREGISTER:
      case IBV_EVENT_GID_CHANGE:
        o.Set("port", ev.element.port_num);
        break;
      default:
        break;
    }
    ibv_ack_async_event(&ev);
    events.push_back(o);
  }
  // One callback per event; the callback may close the device, so stop if it did.
  uint32_t id = dev->id;
  Addon* a = GetAddon(env);
  for (auto& o : events) {
    auto it = a->devices.find(id);
    if (it == a->devices.end()) break;
    CallFromLoop(env, it->second->onAsyncEvent.Value(), it->second->asyncContext, {o});
  }
}

// openDevice(name, onAsyncEvent?) -> { id, info }
Napi::Value OpenDevice(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) throw Napi::TypeError::New(env, "device name must be a string");
  std::string name = info[0].As<Napi::String>();
  DeviceList dl;
  ibv_device* found = nullptr;
  if (GetDeviceList(env, &dl)) {
    for (int i = 0; i < dl.count && found == nullptr; i++)
      if (name == ibv_get_device_name(dl.list[i])) found = dl.list[i];
  }
  if (found == nullptr) ThrowVerbs(env, "ibv_open_device", ENODEV, "no RDMA device named '" + name + "'");
  ibv_context* ctx = ibv_open_device(found);
  if (ctx == nullptr) ThrowVerbs(env, "ibv_open_device", errno, name);
  Napi::Object desc;
  try {
    desc = DescribeContext(env, ctx, name.c_str());
  } catch (...) {
    ibv_close_device(ctx);
    throw;
  }

  Addon* a = GetAddon(env);
  auto dev = std::make_unique<Device>();
  dev->id = a->NewId();
  dev->env = env;
  dev->name = name;
  dev->ctx = ctx;
  if (info.Length() > 1 && info[1].IsFunction()) {
    dev->onAsyncEvent = Napi::Persistent(info[1].As<Napi::Function>());
    dev->asyncContext = std::make_shared<Napi::AsyncContext>(env, "SwitchyardVerbsAsyncEvent");
    int flags = fcntl(ctx->async_fd, F_GETFL);
    if (flags < 0 || fcntl(ctx->async_fd, F_SETFL, flags | O_NONBLOCK) < 0) {
      int err = errno;
      ibv_close_device(ctx);
      ThrowVerbs(env, "fcntl", err, "async event fd");
    }
    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    dev->asyncPoll = new uv_poll_t;
    uv_poll_init(loop, dev->asyncPoll, ctx->async_fd);
    dev->asyncPoll->data = dev.get();
    uv_poll_start(dev->asyncPoll, UV_READABLE, OnAsyncReadable);
    // Device events alone should never keep the process alive.
    uv_unref(reinterpret_cast<uv_handle_t*>(dev->asyncPoll));
  }
  uint32_t id = dev->id;
  a->devices.emplace(id, std::move(dev));
  Napi::Object out = Napi::Object::New(env);
  out.Set("id", id);
  out.Set("info", desc);
  return out;
}

Napi::Value QueryPort(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Device* dev = FindDevice(env, info[0], "ibv_query_port");
  uint32_t port = info[1].As<Napi::Number>().Uint32Value();
  if (port < 1 || port > 255) ThrowVerbs(env, "ibv_query_port", EINVAL, "port numbers start at 1");
  return PortInfo(env, dev->ctx, static_cast<uint8_t>(port));
}

Napi::Value CloseDeviceJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CloseDevice(GetAddon(env), FindDevice(env, info[0], "ibv_close_device"));
  return env.Undefined();
}

}  // namespace

void CloseDevice(Addon* a, Device* dev) {
  // Children first, in the order libibverbs requires: QPs, MRs, CQs, PDs, then the context.
  for (auto it = a->qps.begin(); it != a->qps.end();) {
    Qp* q = (it++)->second.get();
    if (q->pd->dev == dev) DestroyQp(a, q);
  }
  for (auto it = a->mrs.begin(); it != a->mrs.end();) {
    Mr* m = (it++)->second.get();
    if (m->pd->dev == dev) DestroyMr(a, m);
  }
  for (auto it = a->cqs.begin(); it != a->cqs.end();) {
    Cq* c = (it++)->second.get();
    if (c->dev == dev) DestroyCq(a, c);
  }
  for (auto it = a->pds.begin(); it != a->pds.end();) {
    Pd* p = (it++)->second.get();
    if (p->dev == dev) DestroyPd(a, p);
  }
  CloseUvPoll(dev->asyncPoll);
  dev->asyncPoll = nullptr;
  ibv_close_device(dev->ctx);
  a->devices.erase(dev->id);
}

void InitDevice(Napi::Env env, Napi::Object exports) {
  exports.Set("listDevices", Napi::Function::New(env, ListDevices, "listDevices"));
  exports.Set("openDevice", Napi::Function::New(env, OpenDevice, "openDevice"));
  exports.Set("queryPort", Napi::Function::New(env, QueryPort, "queryPort"));
  exports.Set("closeDevice", Napi::Function::New(env, CloseDeviceJs, "closeDevice"));
}

}  // namespace swverbs
