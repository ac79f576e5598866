// RC queue pairs: create, modify through RESET -> INIT -> RTR -> RTS (and to ERROR / RESET), post
// send / RDMA write / RDMA read / receive, destroy.
#include <arpa/inet.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "names.h"
#include "state.h"

namespace swverbs {

namespace {

uint32_t GetU32(const Napi::Object& o, const char* key, uint32_t fallback) {
  Napi::Value v = o.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().Uint32Value() : fallback;
}

enum ibv_mtu MtuEnum(uint32_t bytes, enum ibv_mtu fallback) {
  switch (bytes) {
    case 256: return IBV_MTU_256;
    case 512: return IBV_MTU_512;
    case 1024: return IBV_MTU_1024;
    case 2048: return IBV_MTU_2048;
    case 4096: return IBV_MTU_4096;
    default: return fallback;
  }
}

// "xxxx:xxxx:...:xxxx" (the form both providers report) -> 16 bytes. No std::stoi: a C++
// exception other than Napi::Error would terminate the process.
bool ParseGid(const std::string& text, uint8_t out[16]) {
  int nibbles = 0;
  for (char c : text) {
    int v;
    if (c >= '0' && c <= '9') v = c - '0';
    else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    else if (c == ':') continue;
    else return false;
    if (nibbles >= 32) return false;
    if (nibbles % 2 == 0) out[nibbles / 2] = static_cast<uint8_t>(v << 4);
    else out[nibbles / 2] |= static_cast<uint8_t>(v);
    nibbles++;
  }
  return nibbles == 32;
}

uint64_t GetU64(Napi::Env env, const Napi::Value& v, const char* what) {
  if (v.IsBigInt()) {
    bool lossless = true;
    uint64_t x = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) throw Napi::RangeError::New(env, std::string(what) + " does not fit in 64 bits");
    return x;
  }
  if (v.IsNumber()) return static_cast<uint64_t>(v.As<Napi::Number>().Int64Value());
  throw Napi::TypeError::New(env, std::string(what) + " must be a bigint");
}

// [{ addr, length, lkey }] -> ibv_sge[]
std::vector<ibv_sge> GetSges(Napi::Env env, const Napi::Value& v) {
  if (!v.IsArray()) throw Napi::TypeError::New(env, "sges must be an array");
  Napi::Array arr = v.As<Napi::Array>();
  std::vector<ibv_sge> sges(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Object s = arr.Get(i).As<Napi::Object>();
    sges[i].addr = GetU64(env, s.Get("addr"), "sge.addr");
    sges[i].length = GetU32(s, "length", 0);
    sges[i].lkey = GetU32(s, "lkey", 0);
  }
  return sges;
}

// createQp(pdId, sendCqId, recvCqId, { maxSendWr, maxRecvWr, maxSendSge, maxRecvSge }) -> { id, qpn }
Napi::Value CreateQp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Pd* pd = FindPd(env, info[0], "ibv_create_qp");
  Cq* scq = FindCq(env, info[1], "ibv_create_qp");
  Cq* rcq = FindCq(env, info[2], "ibv_create_qp");
  Napi::Object caps = info[3].As<Napi::Object>();
  ibv_qp_init_attr init{};
  init.send_cq = scq->cq;
  init.recv_cq = rcq->cq;
  init.qp_type = IBV_QPT_RC;
  init.sq_sig_all = 0;  // per work request (IBV_SEND_SIGNALED)
  init.cap.max_send_wr = GetU32(caps, "maxSendWr", 0);
  init.cap.max_recv_wr = GetU32(caps, "maxRecvWr", 0);
  init.cap.max_send_sge = GetU32(caps, "maxSendSge", 1);
  init.cap.max_recv_sge = GetU32(caps, "maxRecvSge", 1);
  ibv_qp* qp = ibv_create_qp(pd->pd, &init);
  if (qp == nullptr) ThrowVerbs(env, "ibv_create_qp", errno);
  Addon* a = GetAddon(env);
  uint32_t id = a->NewId();
  a->qps.emplace(id, std::unique_ptr<Qp>(new Qp{id, pd, scq, rcq, qp}));
  Napi::Object out = Napi::Object::New(env);
  out.Set("id", id);
  out.Set("qpn", qp->qp_num);
  return out;
}

// modifyQp(qpId, 'INIT'|'RTR'|'RTS'|'ERROR'|'RESET', attrs): the RC attribute mask per target.
Napi::Value ModifyQp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Qp* qp = FindQp(env, info[0], "ibv_modify_qp");
  std::string target = info[1].As<Napi::String>();
  Napi::Object attrs = info[2].IsObject() ? info[2].As<Napi::Object>() : Napi::Object::New(env);
  ibv_qp_attr attr{};
  int mask = IBV_QP_STATE;
  if (!ParseTargetState(target.c_str(), &attr.qp_state)) throw Napi::TypeError::New(env, "unknown QP state '" + target + "'");

  switch (attr.qp_state) {
    case IBV_QPS_INIT:
      attr.port_num = static_cast<uint8_t>(GetU32(attrs, "port", 1));
      attr.pkey_index = static_cast<uint16_t>(GetU32(attrs, "pkeyIndex", 0));
      attr.qp_access_flags = GetU32(attrs, "qpAccess", IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ);
      mask |= IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS;
      break;
    case IBV_QPS_RTR: {
      Napi::Value dest = attrs.Get("dest");
      if (!attrs.Get("remoteQpn").IsNumber() || !dest.IsObject())
        ThrowVerbs(env, "ibv_modify_qp", EINVAL, "RTR needs remoteQpn and dest");
      Napi::Object d = dest.As<Napi::Object>();
      uint8_t port = static_cast<uint8_t>(GetU32(attrs, "port", 1));
      ibv_port_attr pa{};
      int rc = ibv_query_port(qp->qp->context, port, &pa);
      if (rc != 0) ThrowVerbs(env, "ibv_query_port", rc > 0 ? rc : errno);
      attr.path_mtu = MtuEnum(GetU32(attrs, "pathMtu", 0), pa.active_mtu);
      attr.dest_qp_num = GetU32(attrs, "remoteQpn", 0);
      attr.rq_psn = GetU32(attrs, "rqPsn", 0) & 0xffffff;
      attr.max_dest_rd_atomic = static_cast<uint8_t>(GetU32(attrs, "maxDestRdAtomic", 4));
      attr.min_rnr_timer = static_cast<uint8_t>(GetU32(attrs, "minRnrTimer", 12));
      attr.ah_attr.dlid = static_cast<uint16_t>(GetU32(d, "lid", 0));
      attr.ah_attr.sl = static_cast<uint8_t>(GetU32(d, "sl", 0));
      attr.ah_attr.src_path_bits = 0;
      attr.ah_attr.port_num = port;
      Napi::Value gid = d.Get("gid");
      // A GRH is needed on RoCE (no LIDs) and whenever the caller addresses the peer by GID only.
      if (gid.IsString() && (pa.link_layer == IBV_LINK_LAYER_ETHERNET || attr.ah_attr.dlid == 0)) {
        if (!ParseGid(gid.As<Napi::String>(), attr.ah_attr.grh.dgid.raw))
          ThrowVerbs(env, "ibv_modify_qp", EINVAL, "dest.gid must be 8 groups of 4 hex digits");
        attr.ah_attr.is_global = 1;
        attr.ah_attr.grh.sgid_index = static_cast<uint8_t>(GetU32(d, "sgidIndex", 0));
        attr.ah_attr.grh.hop_limit = 64;
      }
      mask |= IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN | IBV_QP_RQ_PSN | IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER;
      break;
    }
    case IBV_QPS_RTS:
      attr.sq_psn = GetU32(attrs, "sqPsn", 0) & 0xffffff;
      attr.timeout = static_cast<uint8_t>(GetU32(attrs, "timeout", 20));
      attr.retry_cnt = static_cast<uint8_t>(GetU32(attrs, "retryCnt", 7));
      attr.rnr_retry = static_cast<uint8_t>(GetU32(attrs, "rnrRetry", 7));
      attr.max_rd_atomic = static_cast<uint8_t>(GetU32(attrs, "maxRdAtomic", 4));
      mask |= IBV_QP_SQ_PSN | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY | IBV_QP_MAX_QP_RD_ATOMIC;
      break;
    default:
      break;  // ERROR and RESET take the state alone
  }
  int rc = ibv_modify_qp(qp->qp, &attr, mask);
  if (rc != 0) ThrowVerbs(env, "ibv_modify_qp", rc > 0 ? rc : errno, "to " + target);
  return env.Undefined();
}

Napi::Value QueryQpState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Qp* qp = FindQp(env, info[0], "ibv_query_qp");
  ibv_qp_attr attr{};
  ibv_qp_init_attr init{};
  int rc = ibv_query_qp(qp->qp, &attr, IBV_QP_STATE, &init);
  if (rc != 0) ThrowVerbs(env, "ibv_query_qp", rc > 0 ? rc : errno);
  return Napi::String::New(env, QpStateName(attr.qp_state));
}

// postSend(qpId, { id, opcode, sges, remote?: { addr, rkey }, signaled? })
Napi::Value PostSend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Qp* qp = FindQp(env, info[0], "ibv_post_send");
  Napi::Object w = info[1].As<Napi::Object>();
  std::vector<ibv_sge> sges = GetSges(env, w.Get("sges"));
  ibv_send_wr wr{};
  ibv_send_wr* bad = nullptr;
  wr.wr_id = static_cast<uint64_t>(w.Get("id").As<Napi::Number>().Int64Value());
  wr.sg_list = sges.empty() ? nullptr : sges.data();
  wr.num_sge = static_cast<int>(sges.size());
  Napi::Value signaled = w.Get("signaled");
  wr.send_flags = signaled.IsUndefined() || signaled.ToBoolean() ? IBV_SEND_SIGNALED : 0;
  std::string opcode = w.Get("opcode").As<Napi::String>();
  if (opcode == "SEND") {
    wr.opcode = IBV_WR_SEND;
  } else if (opcode == "RDMA_WRITE" || opcode == "RDMA_READ") {
    wr.opcode = opcode == "RDMA_WRITE" ? IBV_WR_RDMA_WRITE : IBV_WR_RDMA_READ;
    Napi::Value remote = w.Get("remote");
    if (!remote.IsObject()) ThrowVerbs(env, "ibv_post_send", EINVAL, opcode + " needs remote { addr, rkey }");
    Napi::Object r = remote.As<Napi::Object>();
    wr.wr.rdma.remote_addr = GetU64(env, r.Get("addr"), "remote.addr");
    wr.wr.rdma.rkey = GetU32(r, "rkey", 0);
  } else {
    ThrowVerbs(env, "ibv_post_send", EINVAL, "unsupported opcode '" + opcode + "'");
  }
  int rc = ibv_post_send(qp->qp, &wr, &bad);
  if (rc != 0) ThrowVerbs(env, "ibv_post_send", rc > 0 ? rc : errno);
  return env.Undefined();
}

// postRecv(qpId, { id, sges })
Napi::Value PostRecv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Qp* qp = FindQp(env, info[0], "ibv_post_recv");
  Napi::Object w = info[1].As<Napi::Object>();
  std::vector<ibv_sge> sges = GetSges(env, w.Get("sges"));
  ibv_recv_wr wr{};
  ibv_recv_wr* bad = nullptr;
  wr.wr_id = static_cast<uint64_t>(w.Get("id").As<Napi::Number>().Int64Value());
  wr.sg_list = sges.empty() ? nullptr : sges.data();
  wr.num_sge = static_cast<int>(sges.size());
  int rc = ibv_post_recv(qp->qp, &wr, &bad);
  if (rc != 0) ThrowVerbs(env, "ibv_post_recv", rc > 0 ? rc : errno);
  return env.Undefined();
}

Napi::Value DestroyQpJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Addon* a = GetAddon(env);
  Qp* qp = FindQp(env, info[0], "ibv_destroy_qp");
  int rc = ibv_destroy_qp(qp->qp);
  if (rc != 0) ThrowVerbs(env, "ibv_destroy_qp", rc > 0 ? rc : errno);
  a->qps.erase(qp->id);
  return env.Undefined();
}

}  // namespace

void DestroyQp(Addon* a, Qp* qp) {
  ibv_destroy_qp(qp->qp);
  a->qps.erase(qp->id);
}

void InitQp(Napi::Env env, Napi::Object exports) {
  exports.Set("createQp", Napi::Function::New(env, CreateQp, "createQp"));
  exports.Set("modifyQp", Napi::Function::New(env, ModifyQp, "modifyQp"));
  exports.Set("queryQpState", Napi::Function::New(env, QueryQpState, "queryQpState"));
  exports.Set("postSend", Napi::Function::New(env, PostSend, "postSend"));
  exports.Set("postRecv", Napi::Function::New(env, PostRecv, "postRecv"));
  exports.Set("destroyQp", Napi::Function::New(env, DestroyQpJs, "destroyQp"));
}

}  // namespace swverbs
