// Entry point of the switchyard_verbs addon: per-env state, error conversion, handle lookup and
// the helpers every source file shares. Built with C++ exceptions on (NAPI_CPP_EXCEPTIONS), so
// a failed verbs call is one `ThrowVerbs(...)` and N-API failures surface as JS errors.
#include <cerrno>
#include <cstring>

#include "state.h"

namespace swverbs {

Addon* GetAddon(Napi::Env env) { return env.GetInstanceData<Addon>(); }

void ThrowVerbs(Napi::Env env, const char* call, int err, const std::string& detail) {
  if (err <= 0) err = EIO;  // some providers return -1 without errno: report an I/O error, never "Success"
  const char* text = std::strerror(err);
  Addon* a = GetAddon(env);
  if (a != nullptr && !a->verbsError.IsEmpty()) {
    Napi::Object e = a->verbsError.New({Napi::String::New(env, call), Napi::Number::New(env, err), Napi::String::New(env, text),
                                        detail.empty() ? env.Undefined() : Napi::String::New(env, detail)});
    throw Napi::Error(env, e);
  }
  // Before init() handed us the VerbsError class: a plain Error with the same fields.
  Napi::Error e = Napi::Error::New(env, std::string(call) + " failed: " + text + (detail.empty() ? "" : ": " + detail));
  e.Set("call", Napi::String::New(env, call));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("errnoText", Napi::String::New(env, text));
  throw e;
}

template <typename T>
static T* Find(Napi::Env env, std::unordered_map<uint32_t, std::unique_ptr<T>>& table, const Napi::Value& id, const char* call,
               const char* what) {
  if (!id.IsNumber()) throw Napi::TypeError::New(env, std::string(what) + " handle must be a number");
  auto it = table.find(id.As<Napi::Number>().Uint32Value());
  if (it == table.end()) ThrowVerbs(env, call, EINVAL, std::string(what) + " was destroyed or never existed");
  return it->second.get();
}

Device* FindDevice(Napi::Env env, const Napi::Value& id, const char* call) { return Find(env, GetAddon(env)->devices, id, call, "device context"); }
Pd* FindPd(Napi::Env env, const Napi::Value& id, const char* call) { return Find(env, GetAddon(env)->pds, id, call, "protection domain"); }
Cq* FindCq(Napi::Env env, const Napi::Value& id, const char* call) { return Find(env, GetAddon(env)->cqs, id, call, "completion queue"); }
Mr* FindMr(Napi::Env env, const Napi::Value& id, const char* call) { return Find(env, GetAddon(env)->mrs, id, call, "memory region"); }
Qp* FindQp(Napi::Env env, const Napi::Value& id, const char* call) { return Find(env, GetAddon(env)->qps, id, call, "queue pair"); }

void CloseUvPoll(uv_poll_t* poll) {
  if (poll == nullptr) return;
  uv_poll_stop(poll);
  poll->data = nullptr;  // a stopped handle gets no more callbacks; belt and braces for the close window
  uv_close(reinterpret_cast<uv_handle_t*>(poll), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
}

void CallFromLoop(napi_env env, Napi::Function fn, std::shared_ptr<Napi::AsyncContext> ctx, const std::initializer_list<napi_value>& args) {
  Napi::Env e(env);
  try {
    // MakeCallback (not Call): runs the microtask and nextTick queues afterwards, as Node does
    // for its own I/O callbacks, so promises resolved by the callback make progress.
    fn.MakeCallback(e.Global(), args, *ctx);
  } catch (const Napi::Error& err) {
    napi_fatal_exception(env, err.Value());
  }
}

// Tears everything down, children before parents, so process exit or worker termination never
// leaves a uv handle on a loop that is going away or a verbs object on a closed context.
static void CloseAll(void* data) {
  Addon* a = static_cast<Addon*>(data);
  while (!a->devices.empty()) CloseDevice(a, a->devices.begin()->second.get());
}

// init({ VerbsError }): the TS side hands over its error class so native errors are instances of it.
static Napi::Value Init(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() > 0 && info[0].IsFunction()) GetAddon(env)->verbsError = Napi::Persistent(info[0].As<Napi::Function>());
  return env.Undefined();
}

Napi::Object Register(Napi::Env env, Napi::Object exports) {
  Addon* a = new Addon();
  env.SetInstanceData<Addon>(a);
  napi_add_env_cleanup_hook(env, CloseAll, a);
  exports.Set("init", Napi::Function::New(env, Init, "init"));
  exports.Set("abiVersion", Napi::Number::New(env, 1));
  InitDevice(env, exports);
  InitMemory(env, exports);
  InitCq(env, exports);
  InitQp(env, exports);
  return exports;
}

}  // namespace swverbs

// The macro wants an unqualified function name.
static Napi::Object RegisterSwitchyardVerbs(Napi::Env env, Napi::Object exports) { return swverbs::Register(env, exports); }
NODE_API_MODULE(switchyard_verbs, RegisterSwitchyardVerbs)
