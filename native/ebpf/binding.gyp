{
  "targets": [
    {
      "target_name": "imds_ebpf",
      "sources": [
        "src/addon.c",
        "src/tracer.c",
        "src/program.c",
        "src/bpf_asm.c",
        "src/bpf_sys.c",
        "src/btf_offsets.c",
        "src/proc_snapshot.c",
        "src/consumer_thread.c",
        "src/tracepoint_format.c",
        "src/error.c"
      ],
      "include_dirs": ["../common"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-pthread"],
      "ldflags": ["-pthread"],
      "defines": ["_GNU_SOURCE"],
      "conditions": [
        ["OS!='linux'", { "type": "none", "sources": [] }]
      ]
    }
  ]
}
