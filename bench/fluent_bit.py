"""The Fluent Bit side of bench/throughput, only when FLUENT_BIT=/path/to/fluent-bit is set (never a
dependency): the same records from a JSON-lines file (tail, read from the head, exit at the end,
the json parser on the input) into the same receivers: syslog-ng over TCP (out_tcp, JSON lines:
Fluent Bit has no CEF), the HEC receiver (out_splunk over TLS, gzip or not), a file (out_file,
Format plain: a JSON line per record) and out_null.
"""

import os


def config(workdir, name, jsonl, output):
    """Write FLUENT_BIT's configuration for one pipeline (classic format); output is the
    [OUTPUT] section's key/values. Returns its path."""
    d = os.path.join(workdir, "fluent-bit-" + name)
    os.makedirs(d, exist_ok=True)
    parsers = os.path.join(d, "parsers.conf")
    with open(parsers, "w") as f:
        f.write("[PARSER]\n    Name   json\n    Format json\n")
    path = os.path.join(d, "fluent-bit.conf")
    lines = ["[SERVICE]", "    Flush        1", "    Grace        1", "    Log_Level    warn",
             f"    Parsers_File {parsers}", "",
             "[INPUT]", "    Name              tail", f"    Path              {jsonl}",
             "    Read_from_Head    true", "    Exit_On_Eof       true",
             "    Parser            json", "    Buffer_Chunk_Size 1M", "    Buffer_Max_Size   1M",
             "    Tag               defender", "", "[OUTPUT]", "    Match *"]
    lines += [f"    {k} {v}" for k, v in output.items()]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def syslog_output(port):
    return {"Name": "tcp", "Host": "127.0.0.1", "Port": port, "Format": "json_lines"}


def hec_output(url, token, ca_file, gzip):
    host_port = url.split("://", 1)[1]
    host, port = host_port.rsplit(":", 1)
    out = {"Name": "splunk", "Host": host, "Port": port, "Splunk_Token": token,
           "TLS": "On", "TLS.Verify": "On", "TLS.CA_File": ca_file}
    if gzip:
        out["Compress"] = "gzip"
    return out


def file_output(directory, name):
    return {"Name": "file", "Path": directory, "File": name, "Format": "plain"}


def null_output():
    return {"Name": "null"}
