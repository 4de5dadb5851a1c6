{
  # Node-API binding to libpcap for live capture (src/live/pcap-source.ts loads
  # build/Release/imds_pcap.node). Built by native/build.mjs at install time; needs libpcap-dev.
  "targets": [
    {
      "target_name": "imds_pcap",
      "sources": ["src/pcap_binding.c", "src/capabilities.c"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags_c": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"],
      "libraries": ["-lpcap"]
    }
  ]
}
