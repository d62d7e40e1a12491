#!/usr/bin/python3
"""A Strata client in Python, written from proto/strata/v1/*.proto and docs/protocol.md alone.

It proves that any gRPC stack is a client: stubs are generated from the proto files at run time
(grpc_tools.protoc), RecordBatch v2 is encoded and decoded here (CRC-32C included, since the standard
library has only zlib's CRC-32), and nothing of the TypeScript client is used.

    strata_client.py --address HOST:PORT --proto-dir DIR demo --topic T
        creates T, produces keyed records with headers (plain and gzip batches, with a producer id),
        retries one request to show idempotence, replays everything with Subscribe and with Fetch from
        the middle of a batch, provokes a few errors, and prints one JSON object of what it saw.
    strata_client.py --address HOST:PORT --proto-dir DIR replay --topic T
        prints every record of every partition of T as JSON (batches written by another client).

Needs Debian's python3-grpcio, python3-grpc-tools and python3-protobuf (run with /usr/bin/python3).
"""

import argparse
import gzip
import json
import os
import random
import struct
import sys
import tempfile

import grpc

# --- CRC-32C (Castagnoli), docs/protocol.md "CRC-32C" -------------------------------------------

def _crc32c_table():
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C_TABLE = _crc32c_table()


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC32C_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283, "CRC-32C check value"

# --- zigzag varints, docs/protocol.md "Records" --------------------------------------------------

def write_varint(n):
    zigzag = (n << 1) ^ (n >> 63)
    out = bytearray()
    while zigzag >= 0x80:
        out.append((zigzag & 0x7F) | 0x80)
        zigzag >>= 7
    out.append(zigzag)
    return bytes(out)


def read_varint(buf, pos):
    zigzag, shift = 0, 0
    while True:
        byte = buf[pos]
        pos += 1
        zigzag |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return (zigzag >> 1) ^ -(zigzag & 1), pos
        shift += 7
        if shift > 63:
            raise ValueError("varint longer than 10 bytes")


def _nullable(data):
    if data is None:
        return write_varint(-1)
    return write_varint(len(data)) + data


def _read_nullable(buf, pos):
    length, pos = read_varint(buf, pos)
    if length < 0:
        return None, pos
    return bytes(buf[pos:pos + length]), pos + length


# --- RecordBatch v2, docs/protocol.md "RecordBatch v2, byte by byte" ----------------------------

HEADER_AFTER_CRC = struct.Struct(">hiqqqhii")  # attributes .. recordCount: positions 21 to 61
HEADER_BEFORE_CRC = struct.Struct(">qiibI")  # baseOffset, batchLength, partitionLeaderEpoch, magic, crc
CODEC_NONE, CODEC_GZIP = 0, 1


def encode_batch(records, producer_id=-1, producer_epoch=-1, base_sequence=-1, codec=CODEC_NONE):
    """records: dicts with key (bytes or None), value (bytes or None), headers [(str, bytes)], timestamp_ms."""
    base_timestamp = records[0]["timestamp_ms"]
    body = bytearray()
    for index, record in enumerate(records):
        fields = bytearray(b"\x00")  # attributes
        fields += write_varint(record["timestamp_ms"] - base_timestamp)
        fields += write_varint(index)  # offsetDelta
        fields += _nullable(record.get("key"))
        fields += _nullable(record.get("value"))
        headers = record.get("headers", [])
        fields += write_varint(len(headers))
        for header_key, header_value in headers:
            fields += _nullable(header_key.encode("utf-8")) + _nullable(header_value)
        body += write_varint(len(fields)) + fields
    if codec == CODEC_GZIP:
        body = gzip.compress(bytes(body))
    covered = HEADER_AFTER_CRC.pack(
        codec, len(records) - 1, base_timestamp, max(r["timestamp_ms"] for r in records),
        producer_id, producer_epoch, base_sequence, len(records),
    ) + bytes(body)
    batch_length = 4 + 1 + 4 + len(covered)  # partitionLeaderEpoch, magic, crc, then the covered bytes
    return HEADER_BEFORE_CRC.pack(0, batch_length, -1, 2, crc32c(covered)) + covered


def decode_batches(data, skip_below):
    """Every record of the whole batches in data, skipping offsets below skip_below (a fetch's offset)."""
    records, pos = [], 0
    while pos + 12 <= len(data):
        base_offset, batch_length = struct.unpack_from(">qi", data, pos)
        end = pos + 12 + batch_length
        if end > len(data):
            break
        _, _, _, magic, crc = HEADER_BEFORE_CRC.unpack_from(data, pos)
        if magic != 2:
            raise ValueError("magic %d at byte %d" % (magic, pos))
        if crc32c(data[pos + 21:end]) != crc:
            raise ValueError("CRC-32C mismatch in the batch at byte %d" % pos)
        attributes, _, base_timestamp, max_timestamp, _, _, _, count = HEADER_AFTER_CRC.unpack_from(data, pos + 21)
        area = data[pos + 61:end]
        codec = attributes & 0x07
        if codec == CODEC_GZIP:
            area = gzip.decompress(area)
        elif codec != CODEC_NONE:
            raise ValueError("codec %d" % codec)
        log_append_time = attributes & 0x08
        at = 0
        for _ in range(count):
            length, at = read_varint(area, at)
            record_end = at + length
            at += 1  # attributes
            timestamp_delta, at = read_varint(area, at)
            offset_delta, at = read_varint(area, at)
            key, at = _read_nullable(area, at)
            value, at = _read_nullable(area, at)
            header_count, at = read_varint(area, at)
            headers = []
            for _ in range(header_count):
                header_key, at = _read_nullable(area, at)
                header_value, at = _read_nullable(area, at)
                headers.append((header_key.decode("utf-8"), header_value))
            if at != record_end:
                raise ValueError("record length mismatch")
            offset = base_offset + offset_delta
            if offset >= skip_below:
                records.append({
                    "offset": offset,
                    "timestamp_ms": max_timestamp if log_append_time else base_timestamp + timestamp_delta,
                    "key": key, "value": value, "headers": headers,
                })
        pos = end
    return records


# --- gRPC ----------------------------------------------------------------------------------------

def load_protocol(proto_dir):
    """Generates the Python stubs from the proto files into a temporary directory and imports them."""
    from grpc_tools import protoc

    out = tempfile.mkdtemp(prefix="strata-python-stubs-")
    files = sorted(os.path.join("strata", "v1", name) for name in os.listdir(os.path.join(proto_dir, "strata", "v1")) if name.endswith(".proto"))
    if protoc.main(["protoc", "-I" + proto_dir, "--python_out=" + out, "--grpc_python_out=" + out] + files) != 0:
        raise RuntimeError("protoc failed on " + proto_dir)
    sys.path.insert(0, out)
    from strata.v1 import admin_pb2, admin_pb2_grpc, common_pb2, consume_pb2, consume_pb2_grpc, produce_pb2, produce_pb2_grpc
    return {
        "admin": admin_pb2, "admin_grpc": admin_pb2_grpc, "common": common_pb2,
        "consume": consume_pb2, "consume_grpc": consume_pb2_grpc, "produce": produce_pb2, "produce_grpc": produce_pb2_grpc,
    }


def error_of(rpc_error):
    """A failed call as the server describes it: status plus the strata-* trailers."""
    trailers = dict(rpc_error.trailing_metadata() or ())
    return {
        "status": rpc_error.code().name,
        "code": trailers.get("strata-error-code"),
        "retriable": trailers.get("strata-retriable"),
        "call_id": trailers.get("strata-call-id"),
        "details": rpc_error.details(),
    }


class StrataClient:
    def __init__(self, address, proto_dir):
        self.pb = load_protocol(proto_dir)
        # Responses can be 64 MiB + 64 KiB (docs/protocol.md, limits); gRPC's default receive limit is 4 MiB.
        self.channel = grpc.insecure_channel(address, options=[("grpc.max_receive_message_length", (64 << 20) + (64 << 10))])
        self.admin = self.pb["admin_grpc"].AdminServiceStub(self.channel)
        self.produce_stub = self.pb["produce_grpc"].ProduceServiceStub(self.channel)
        self.consume = self.pb["consume_grpc"].ConsumeServiceStub(self.channel)

    def create_topic(self, topic, partition_count):
        return self.admin.CreateTopic(self.pb["admin"].CreateTopicRequest(topic=topic, partition_count=partition_count), timeout=10)

    def init_producer(self, name=None):
        """A producer id and epoch handed out by the server (docs/protocol.md, producer ids)."""
        request = self.pb["produce"].InitProducerRequest(producer_name=name) if name else self.pb["produce"].InitProducerRequest()
        response = self.produce_stub.InitProducer(request, timeout=10)
        return response.producer_id, response.producer_epoch

    def produce(self, requests):
        """requests: (request_id, topic, partition, records bytes); answers by request id (any order)."""
        produce_pb2 = self.pb["produce"]
        messages = [produce_pb2.ProduceRequest(request_id=r[0], topic=r[1], partition=r[2], records=r[3]) for r in requests]
        answers = {}
        for response in self.produce_stub.Produce(iter(messages), timeout=30):
            answers[response.request_id] = response
        return answers

    def end_offsets(self, topic):
        common = self.pb["common"]
        position = common.StartPosition(point=common.START_POINT_LATEST)
        response = self.admin.ListOffsets(self.pb["admin"].ListOffsetsRequest(topic=topic, position=position), timeout=10)
        return {o.partition: o.offset for o in response.offsets}

    def replay(self, topic):
        """Every record of every partition, from the earliest, with Subscribe, until the current end."""
        ends = {p: end for p, end in self.end_offsets(topic).items() if end > 0}
        common = self.pb["common"]
        request = self.pb["consume"].SubscribeRequest(topic=topic, start=common.StartPosition(point=common.START_POINT_EARLIEST))
        records = {p: [] for p in ends}
        if not ends:
            return records
        call = self.consume.Subscribe(request, timeout=30)
        done = set()
        for response in call:
            records[response.partition].extend(decode_batches(response.records, response.fetch_offset))
            if response.next_offset >= ends[response.partition]:
                done.add(response.partition)
            if done == set(ends):
                call.cancel()
                break
        return records

    def fetch(self, topic, partition, offset):
        request = self.pb["consume"].FetchRequest(topic=topic, partition=partition, offset=offset)
        response = self.consume.Fetch(request, timeout=10)
        return decode_batches(response.records, offset), response


def as_json(record):
    return {
        "offset": record["offset"], "timestamp_ms": record["timestamp_ms"],
        "key": None if record["key"] is None else record["key"].decode("utf-8"),
        "value": None if record["value"] is None else record["value"].decode("utf-8"),
        "headers": [[k, None if v is None else v.decode("utf-8")] for k, v in record["headers"]],
    }


def failure_of(response):
    if not response.HasField("failure"):
        return None
    return {"code": response.failure.code, "retriable": response.failure.retriable, "grpc_status": response.failure.grpc_status}


def demo(client, topic):
    out = {}
    client.create_topic(topic, 2)
    producer_id, producer_epoch = client.init_producer()
    out["init_producer_epoch"] = producer_epoch
    now_ms = 1_765_000_000_000
    plain = [{"key": b"user-%d" % i, "value": b"signed up %d" % i, "headers": [("trace", b"t%d" % i)], "timestamp_ms": now_ms + i} for i in range(3)]
    zipped = [{"key": b"user-%d" % i, "value": b"paid %d" % i, "headers": [("trace", b"t%d" % i), ("empty", None)], "timestamp_ms": now_ms + i} for i in range(3, 5)]
    first = encode_batch(plain, producer_id, producer_epoch, 0)
    second = encode_batch(zipped, producer_id, producer_epoch, 3, CODEC_GZIP)
    keyless = encode_batch([{"key": None, "value": b"no key", "timestamp_ms": now_ms}])
    answers = client.produce([(1, topic, 0, first), (2, topic, 0, second), (3, topic, 1, keyless)])
    out["produced"] = {rid: {"base_offset": a.base_offset, "last_offset": a.last_offset, "durability": client.pb["common"].AckLevel.Name(a.durability), "duplicate": a.duplicate, "failure": failure_of(a)} for rid, a in answers.items()}
    # The same batch again (a retry after a lost answer): the original offsets, nothing written twice.
    retry = client.produce([(4, topic, 0, first)])[4]
    out["retry"] = {"base_offset": retry.base_offset, "last_offset": retry.last_offset, "duplicate": retry.duplicate}
    replayed = client.replay(topic)
    out["replayed"] = {str(p): [as_json(r) for r in records] for p, records in replayed.items()}
    # From the middle of the first batch: the batch comes whole, records below offset 1 are skipped.
    from_one, response = client.fetch(topic, 0, 1)
    out["fetched_from_1"] = [r["offset"] for r in from_one]
    out["fetch_next_offset"] = response.next_offset
    out["end_offsets"] = {str(p): o for p, o in client.end_offsets(topic).items()}
    errors = {}
    try:
        client.fetch(topic, 0, -1)
    except grpc.RpcError as error:
        errors["negative_fetch"] = error_of(error)
    try:
        client.fetch(topic, 0, 1000)
    except grpc.RpcError as error:
        errors["fetch_past_end"] = error_of(error)
    transactional = bytearray(encode_batch(plain))
    struct.pack_into(">h", transactional, 21, 0x10)
    struct.pack_into(">I", transactional, 17, crc32c(bytes(transactional[21:])))
    garbage = bytes(random.Random(14).randrange(256) for _ in range(300))
    bad = client.produce([(5, topic, 0, garbage), (6, topic, 0, bytes(transactional)), (7, topic, 0, encode_batch(plain, producer_id, producer_epoch, 99))])
    errors["garbage"] = failure_of(bad[5])
    # A second instance of a named producer fences the first, on a partition the second never wrote to.
    named_id, old_epoch = client.init_producer("py-demo")
    client.init_producer("py-demo")
    errors["fenced"] = failure_of(client.produce([(8, topic, 1, encode_batch(plain, named_id, old_epoch, 0))])[8])
    errors["transactional"] = failure_of(bad[6])
    errors["sequence_gap"] = failure_of(bad[7])
    out["errors"] = errors
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", required=True)
    parser.add_argument("--proto-dir", required=True)
    parser.add_argument("command", choices=["demo", "replay"])
    parser.add_argument("--topic", required=True)
    args = parser.parse_args()
    client = StrataClient(args.address, args.proto_dir)
    if args.command == "demo":
        result = demo(client, args.topic)
    else:
        result = {str(p): [as_json(r) for r in records] for p, records in client.replay(args.topic).items()}
    client.channel.close()
    json.dump(result, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
