// Protection domains and memory registration of Node buffers (ibv_alloc_pd, ibv_reg_mr).
#include <cerrno>

#include "state.h"

namespace swverbs {

namespace {

// allocPd(deviceId) -> pdId
Napi::Value AllocPd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Device* dev = FindDevice(env, info[0], "ibv_alloc_pd");
  ibv_pd* pd = ibv_alloc_pd(dev->ctx);
  if (pd == nullptr) ThrowVerbs(env, "ibv_alloc_pd", errno);
  Addon* a = GetAddon(env);
  uint32_t id = a->NewId();
  a->pds.emplace(id, std::unique_ptr<Pd>(new Pd{id, dev, pd}));
  return Napi::Number::New(env, id);
}

Napi::Value DeallocPd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Addon* a = GetAddon(env);
  Pd* pd = FindPd(env, info[0], "ibv_dealloc_pd");
  // libibverbs would return EBUSY too, but only after the kernel round trip; checking here keeps
  // the table consistent with what the kernel holds.
  for (auto& [id, mr] : a->mrs)
    if (mr->pd == pd) ThrowVerbs(env, "ibv_dealloc_pd", EBUSY, "memory regions are still registered in it");
  for (auto& [id, qp] : a->qps)
    if (qp->pd == pd) ThrowVerbs(env, "ibv_dealloc_pd", EBUSY, "queue pairs still use it");
  int rc = ibv_dealloc_pd(pd->pd);
  if (rc != 0) ThrowVerbs(env, "ibv_dealloc_pd", rc > 0 ? rc : errno);
  a->pds.erase(pd->id);
  return env.Undefined();
}

// regMr(pdId, uint8array, access) -> { id, lkey, rkey, addr: bigint }
Napi::Value RegMr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Pd* pd = FindPd(env, info[0], "ibv_reg_mr");
  if (!info[1].IsTypedArray()) throw Napi::TypeError::New(env, "registerMemory needs a Uint8Array or Buffer");
  Napi::TypedArray view = info[1].As<Napi::TypedArray>();
  int access = info[2].As<Napi::Number>().Int32Value();
  uint8_t* base = static_cast<uint8_t*>(view.ArrayBuffer().Data()) + view.ByteOffset();
  size_t length = view.ByteLength();
  ibv_mr* mr = ibv_reg_mr(pd->pd, base, length, access);
  if (mr == nullptr) ThrowVerbs(env, "ibv_reg_mr", errno);
  Addon* a = GetAddon(env);
  uint32_t id = a->NewId();
  auto m = std::unique_ptr<Mr>(new Mr{id, pd, mr, Napi::Persistent(info[1])});
  a->mrs.emplace(id, std::move(m));
  Napi::Object out = Napi::Object::New(env);
  out.Set("id", id);
  out.Set("lkey", mr->lkey);
  out.Set("rkey", mr->rkey);
  out.Set("addr", Napi::BigInt::New(env, static_cast<uint64_t>(reinterpret_cast<uintptr_t>(mr->addr))));
  return out;
}

Napi::Value DeregMr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Addon* a = GetAddon(env);
  Mr* m = FindMr(env, info[0], "ibv_dereg_mr");
  int rc = ibv_dereg_mr(m->mr);
  if (rc != 0) ThrowVerbs(env, "ibv_dereg_mr", rc > 0 ? rc : errno);
  a->mrs.erase(m->id);  // drops the buffer reference: GC may now reclaim it
  return env.Undefined();
}

}  // namespace

void DestroyMr(Addon* a, Mr* m) {
  ibv_dereg_mr(m->mr);
  a->mrs.erase(m->id);
}

void DestroyPd(Addon* a, Pd* p) {
  ibv_dealloc_pd(p->pd);
  a->pds.erase(p->id);
}

void InitMemory(Napi::Env env, Napi::Object exports) {
  exports.Set("allocPd", Napi::Function::New(env, AllocPd, "allocPd"));
  exports.Set("deallocPd", Napi::Function::New(env, DeallocPd, "deallocPd"));
  exports.Set("regMr", Napi::Function::New(env, RegMr, "regMr"));
  exports.Set("deregMr", Napi::Function::New(env, DeregMr, "deregMr"));
}

}  // namespace swverbs
