/**
 * The network layer: frames and the msgpack codec of Raft messages, the authenticated TCP
 * transport between Raft peers, the server that accepts peers and clients on one port, and
 * pipelined client RPC. It knows bytes and addresses, never Raft rules.
 */

export { encodeFrame, FrameError, type FrameErrorCode, FrameReader } from "./frame.ts";
export {
  CodecError,
  type CodecErrorCode,
  decodeBatch,
  decodeMessage,
  type DecodeResult,
  encodeBatch,
  encodeBatchFrame,
  encodeMessage,
  ENTRY_TAG,
  estimateMessageBytes,
  MESSAGE_TAG,
} from "./raft_codec.ts";
export {
  HandshakeError,
  type HandshakeErrorCode,
  type HandshakeRole,
  importClusterKey,
  PROTOCOL_VERSION,
} from "./handshake.ts";
export type { PeerAddress, PeerLinkStats } from "./peer_link.ts";
export { TcpTransport, type TcpTransportOptions } from "./tcp_transport.ts";
export {
  NetServer,
  type NetServerOptions,
  type NetServerStats,
  type PeerInboundStats,
} from "./server.ts";
export type { ClientRequestHandler } from "./rpc_server.ts";
export {
  type RpcCallOptions,
  RpcClient,
  type RpcClientOptions,
  RpcError,
  type RpcErrorCode,
} from "./rpc.ts";
export { isRpcErrorBody, type RpcErrorBody, type RpcErrorBodyCode } from "./rpc_codec.ts";
export * as limits from "./limits.ts";
