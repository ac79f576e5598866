// libibverbs enum values <-> the strings the TypeScript interface uses (IBV_* without prefix).
#pragma once

#include <infiniband/verbs.h>

#include <cstring>

namespace swverbs {

inline const char* WcStatusName(ibv_wc_status s) {
  static const char* const names[] = {
      "SUCCESS",          "LOC_LEN_ERR",       "LOC_QP_OP_ERR",      "LOC_EEC_OP_ERR",    "LOC_PROT_ERR",
      "WR_FLUSH_ERR",     "MW_BIND_ERR",       "BAD_RESP_ERR",       "LOC_ACCESS_ERR",    "REM_INV_REQ_ERR",
      "REM_ACCESS_ERR",   "REM_OP_ERR",        "RETRY_EXC_ERR",      "RNR_RETRY_EXC_ERR", "LOC_RDD_VIOL_ERR",
      "REM_INV_RD_REQ_ERR", "REM_ABORT_ERR",   "INV_EECN_ERR",       "INV_EEC_STATE_ERR", "FATAL_ERR",
      "RESP_TIMEOUT_ERR", "GENERAL_ERR",       "TM_ERR",             "TM_RNDV_INCOMPLETE"};
  unsigned i = static_cast<unsigned>(s);
  return i < sizeof(names) / sizeof(names[0]) ? names[i] : "GENERAL_ERR";
}

inline const char* WcOpcodeName(ibv_wc_opcode op) {
  switch (op) {
    case IBV_WC_SEND: return "SEND";
    case IBV_WC_RDMA_WRITE: return "RDMA_WRITE";
    case IBV_WC_RDMA_READ: return "RDMA_READ";
    case IBV_WC_RECV: return "RECV";
    case IBV_WC_RECV_RDMA_WITH_IMM: return "RECV_RDMA_WITH_IMM";
    default: return "OTHER";
  }
}

inline const char* PortStateName(ibv_port_state s) {
  switch (s) {
    case IBV_PORT_DOWN: return "DOWN";
    case IBV_PORT_INIT: return "INIT";
    case IBV_PORT_ARMED: return "ARMED";
    case IBV_PORT_ACTIVE: return "ACTIVE";
    case IBV_PORT_ACTIVE_DEFER: return "ACTIVE_DEFER";
    default: return "NOP";
  }
}

inline const char* LinkLayerName(uint8_t ll) {
  switch (ll) {
    case IBV_LINK_LAYER_INFINIBAND: return "INFINIBAND";
    case IBV_LINK_LAYER_ETHERNET: return "ETHERNET";
    default: return "UNSPECIFIED";
  }
}

inline const char* QpStateName(ibv_qp_state s) {
  switch (s) {
    case IBV_QPS_RESET: return "RESET";
    case IBV_QPS_INIT: return "INIT";
    case IBV_QPS_RTR: return "RTR";
    case IBV_QPS_RTS: return "RTS";
    case IBV_QPS_SQD: return "SQD";
    case IBV_QPS_SQE: return "SQE";
    default: return "ERROR";
  }
}

// Returns false for a name the interface does not allow as a modify target.
inline bool ParseTargetState(const char* name, ibv_qp_state* out) {
  static const struct { const char* name; ibv_qp_state state; } table[] = {
      {"RESET", IBV_QPS_RESET}, {"INIT", IBV_QPS_INIT}, {"RTR", IBV_QPS_RTR}, {"RTS", IBV_QPS_RTS}, {"ERROR", IBV_QPS_ERR}};
  for (const auto& e : table) {
    if (std::strcmp(e.name, name) == 0) {
      *out = e.state;
      return true;
    }
  }
  return false;
}

inline const char* AsyncEventName(ibv_event_type t) {
  static const char* const names[] = {
      "CQ_ERR",       "QP_FATAL",    "QP_REQ_ERR",  "QP_ACCESS_ERR", "COMM_EST",          "SQ_DRAINED",
      "PATH_MIG",     "PATH_MIG_ERR", "DEVICE_FATAL", "PORT_ACTIVE", "PORT_ERR",          "LID_CHANGE",
      "PKEY_CHANGE",  "SM_CHANGE",   "SRQ_ERR",     "SRQ_LIMIT_REACHED", "QP_LAST_WQE_REACHED", "CLIENT_REREGISTER",
      "GID_CHANGE",   "WQ_FATAL"};
  unsigned i = static_cast<unsigned>(t);
  return i < sizeof(names) / sizeof(names[0]) ? names[i] : "OTHER";
}

}  // namespace swverbs
