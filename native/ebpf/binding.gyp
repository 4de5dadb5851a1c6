{
  # Node-API addon for eBPF connect attribution (src/attribution/ebpf-addon.ts loads
  # build/Release/imds_ebpf.node). Built by native/build.mjs at install time: needs a C compiler
  # and linux-libc-dev; see README.md.
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
      # Portable across glibc versions (2.17 on): native/common/portable.h says why and how.
      "cflags": ["-include", "<(module_root_dir)/../common/portable.h", "-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-pthread"],
      "ldflags": ["-pthread", "-static-libgcc"],
      "defines": ["_GNU_SOURCE"],
      "conditions": [
        ["OS!='linux'", { "type": "none", "sources": [] }]
      ]
    }
  ]
}
