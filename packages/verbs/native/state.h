// Per-environment state of the addon: every verbs object lives in a table keyed by a small
// integer handle that JavaScript holds. A handle that was destroyed is simply absent, so a stale
// JS object gets a clean error instead of a use-after-free.
#pragma once

#include <infiniband/verbs.h>
#include <napi.h>
#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

namespace swverbs {

struct Device;

struct Pd {
  uint32_t id;
  Device* dev;
  ibv_pd* pd;
};

struct Mr {
  uint32_t id;
  Pd* pd;
  ibv_mr* mr;
  // The registered Uint8Array: referenced so GC cannot free memory the HCA may still DMA into.
  Napi::Reference<Napi::Value> keep;
};

struct Cq {
  uint32_t id;
  Device* dev;
  napi_env env;
  ibv_comp_channel* channel = nullptr;
  ibv_cq* cq = nullptr;
  uv_poll_t* poll = nullptr;
  Napi::FunctionReference onCompletions;
  std::shared_ptr<Napi::AsyncContext> asyncContext;
};

struct Qp {
  uint32_t id;
  Pd* pd;
  Cq* sendCq;
  Cq* recvCq;
  ibv_qp* qp;
};

struct Device {
  uint32_t id;
  napi_env env;
  std::string name;
  ibv_context* ctx = nullptr;
  uv_poll_t* asyncPoll = nullptr;
  Napi::FunctionReference onAsyncEvent;
  std::shared_ptr<Napi::AsyncContext> asyncContext;
};

struct Addon {
  Napi::FunctionReference verbsError;  // the TS VerbsError class, set by init()
  uint32_t nextId = 1;
  std::unordered_map<uint32_t, std::unique_ptr<Device>> devices;
  std::unordered_map<uint32_t, std::unique_ptr<Pd>> pds;
  std::unordered_map<uint32_t, std::unique_ptr<Cq>> cqs;
  std::unordered_map<uint32_t, std::unique_ptr<Mr>> mrs;
  std::unordered_map<uint32_t, std::unique_ptr<Qp>> qps;

  uint32_t NewId() { return nextId++; }
};

Addon* GetAddon(Napi::Env env);

// Throws the JS VerbsError(call, errno, strerror(errno), detail) as a C++ Napi::Error.
[[noreturn]] void ThrowVerbs(Napi::Env env, const char* call, int err, const std::string& detail = "");

// Looks a handle up or throws VerbsError(call, EINVAL, "... was destroyed").
Device* FindDevice(Napi::Env env, const Napi::Value& id, const char* call);
Pd* FindPd(Napi::Env env, const Napi::Value& id, const char* call);
Cq* FindCq(Napi::Env env, const Napi::Value& id, const char* call);
Mr* FindMr(Napi::Env env, const Napi::Value& id, const char* call);
Qp* FindQp(Napi::Env env, const Napi::Value& id, const char* call);

// Teardown helpers used by explicit destroy calls and by device close / env cleanup.
void DestroyQp(Addon* a, Qp* qp);
void DestroyMr(Addon* a, Mr* mr);
void DestroyCq(Addon* a, Cq* cq);
void DestroyPd(Addon* a, Pd* pd);
void CloseDevice(Addon* a, Device* dev);

// Closes a uv handle and frees it once libuv is done with it.
void CloseUvPoll(uv_poll_t* poll);

// Calls a JS callback from a libuv callback; an exception becomes an uncaught exception. Takes the
// function and async context by value: the callback may destroy the object that held them.
void CallFromLoop(napi_env env, Napi::Function fn, std::shared_ptr<Napi::AsyncContext> ctx, const std::initializer_list<napi_value>& args);

// Registration functions of each source file.
void InitDevice(Napi::Env env, Napi::Object exports);
void InitMemory(Napi::Env env, Napi::Object exports);
void InitCq(Napi::Env env, Napi::Object exports);
void InitQp(Napi::Env env, Napi::Object exports);

}  // namespace swverbs
