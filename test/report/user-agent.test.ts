import { describe, expect, it } from "vitest";
import { minimumImdsV2Versions, parseSdkFromUserAgent } from "../../src/report/user-agent.js";
import { compareVersions } from "../../src/report/version-compare.js";

describe("compareVersions", () => {
  it.each([
    ["1.16.289", "1.16.289", 0],
    ["1.16.288", "1.16.289", -1],
    ["1.16.290", "1.16.289", 1],
    ["1.45.11", "1.16.289", 1],
    ["1.9.0", "1.13.25", -1],
    ["2.10", "2.10.0", 0],
    ["2.10.21", "2.10.3", 1],
    ["3.3.634.1", "3.3.634.0", 1],
    ["3.3.634", "3.3.634.1", -1],
    ["3.3.600.0", "3.3.634.1", -1],
    ["4.0.1.0", "4.0.1", 0],
    ["2.0.0dev1", "2.0.0", 0],
    ["1.0.0-rc1", "1.0.1", -1],
    ["10.0", "9.99.99", 1],
  ] as const)("%s vs %s", (a, b, expected) => {
    expect(compareVersions(a, b)).toBe(expected);
    expect(compareVersions(b, a)).toBe(-expected || 0);
  });
});

describe("parseSdkFromUserAgent", () => {
  // Real User-Agents of IMDS calls (captured, or from the SDKs' sources and issue threads).
  it.each([
    // [User-Agent, name, version, supportsImdsV2, minimumForImdsV2, judgedBy]
    ["aws-cli/1.45.11 Python/3.11.7 Linux/6.18.44-fc-v657 botocore/1.43.11", "aws-cli-v1", "1.45.11", true, "1.13.25", "botocore 1.43.11"],
    ["aws-cli/1.16.0 Python/2.7.5 Linux/3.10.0 botocore/1.12.0", "aws-cli-v1", "1.16.0", false, "1.13.25", "botocore 1.12.0"],
    // An old CLI with a new botocore (pip): botocore makes the calls, so it decides.
    ["aws-cli/1.16.200 Python/3.7.0 Linux/4.14 botocore/1.13.25", "aws-cli-v1", "1.16.200", true, "1.13.25", "botocore 1.13.25"],
    ["aws-cli/1.16.288", "aws-cli-v1", "1.16.288", false, "1.16.289", null],
    ["aws-cli/2.9.19 Python/3.11.2 Linux/6.1.0-18-amd64 source/x86_64.debian.12 prompt/off", "aws-cli-v2", "2.9.19", true, "1.16.289", null],
    ["aws-cli/2.9.19", "aws-cli-v2", "2.9.19", true, "1.16.289", null],
    ["Boto3/1.43.11 Python/3.11.7 Linux/6.18.44-fc-v657 Botocore/1.43.11", "boto3", "1.43.11", true, "1.13.25", "botocore 1.43.11"],
    ["Boto3/1.9.100 Python/3.6.8 Linux/4.14 Botocore/1.12.90", "boto3", "1.9.100", false, "1.13.25", "botocore 1.12.90"],
    ["Boto3/1.12.5", "boto3", "1.12.5", false, "1.12.6", null],
    ["Botocore/1.12.0 Python/2.7.5 Linux/3.10.0-1160.el7.x86_64", "botocore", "1.12.0", false, "1.13.25", null],
    ["Botocore/1.13.25 Python/3.8.0 Linux/5.4", "botocore", "1.13.25", true, "1.13.25", null],
    ["aws-sdk-go/1.44.0 (go1.20; linux; amd64)", "aws-sdk-go", "1.44.0", true, "1.25.38", null],
    ["aws-sdk-go/1.25.37 (go1.13; linux; amd64)", "aws-sdk-go", "1.25.37", false, "1.25.38", null],
    ["aws-sdk-go-v2/1.17.1 os/linux lang/go#1.19 md/GOOS#linux md/GOARCH#amd64 ft/ec2-imds", "aws-sdk-go-v2", "1.17.1", true, "0.19.0", null],
    ["aws-sdk-go-v2/0.18.0", "aws-sdk-go-v2", "0.18.0", false, "0.19.0", null],
    ["aws-sdk-java/1.11.600 Linux/4.14.133-113.105.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/25.222-b10 java/1.8.0_222", "aws-sdk-java-v1", "1.11.600", false, "1.11.678", null],
    ["aws-sdk-java/1.12.261 Linux/5.10 OpenJDK_64-Bit_Server_VM/11.0.16 java/11.0.16 vendor/Amazon.com_Inc.", "aws-sdk-java-v1", "1.12.261", true, "1.11.678", null],
    ["aws-sdk-java/2.10.0 Linux/4.14 OpenJDK_64-Bit_Server_VM/25.232-b09 Java/1.8.0_232 vendor/Oracle_Corporation", "aws-sdk-java-v2", "2.10.0", false, "2.10.21", null],
    ["aws-sdk-java/2.20.43 Linux/5.10 OpenJDK_64-Bit_Server_VM/17.0.6+10-LTS Java/17.0.6 vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/legacy", "aws-sdk-java-v2", "2.20.43", true, "2.10.21", null],
    ["aws-sdk-nodejs/2.700.0 linux/v12.0.0", "aws-sdk-js-v2", "2.700.0", false, "2.722.0", null],
    ["aws-sdk-nodejs/2.1354.0 linux/v18.16.0 exec-env/AWS_ECS_EC2", "aws-sdk-js-v2", "2.1354.0", true, "2.722.0", null],
    ["aws-sdk-dotnet-coreclr/3.3.600.0 aws-sdk-dotnet-core/3.3.104.1 .NET_Core/4.6.28325.01 OS/Linux", "aws-sdk-dotnet", "3.3.600.0", false, "3.3.634.1", null],
    ["aws-sdk-dotnet-coreclr/3.7.108.0 aws-sdk-dotnet-core/3.7.108.2 .NET_Core/6.0.20 OS/Linux_5.15.0-76-generic", "aws-sdk-dotnet", "3.7.108.0", true, "3.3.634.1", null],
    // IMDS calls from the .NET core leave the first version empty.
    ["aws-sdk-dotnet-coreclr/ aws-sdk-dotnet-core/3.3.31.8 .NET_Core/4.6.27129.04 OS/Microsoft_Windows_10.0.17134", "aws-sdk-dotnet", "3.3.31.8", false, "3.3.634.1", null],
    ["aws-sdk-ruby3/3.70.0 ruby/2.7 x86_64-linux", "aws-sdk-ruby", "3.70.0", false, "3.79.0", null],
    ["aws-sdk-ruby3/3.130.0 ruby/3.1.2 x86_64-linux aws-sdk-core/3.130.0", "aws-sdk-ruby", "3.130.0", true, "3.79.0", null],
    ["aws-sdk-ruby2/2.11.632 ruby/2.5.1 x86_64-linux", "aws-sdk-ruby", "2.11.632", false, "3.79.0", null],
    ["aws-sdk-php/3.100.0 GuzzleHttp/6 curl/7.58.0 PHP/7.2.24", "aws-sdk-php", "3.100.0", false, "3.147.7", null],
    ["aws-sdk-php/3.258.3 OS/Linux/5.10 lang/php/8.1.14 GuzzleHttp/7", "aws-sdk-php", "3.258.3", true, "3.147.7", null],
    ["aws-sdk-cpp/1.7.228 Linux/4.15.0 x86_64 GCC/7.4.0", "aws-sdk-cpp", "1.7.228", false, "1.7.229", null],
    ["Cloud-Init/22.4.2", "cloud-init", "22.4.2", true, "19.4", null],
    ["Cloud-Init/18.5", "cloud-init", "18.5", false, "19.4", null],
  ] as const)("%s", (userAgent, name, version, supports, minimum, judgedBy) => {
    const sdk = parseSdkFromUserAgent(userAgent);
    expect(sdk).not.toBeNull();
    expect({
      name: sdk!.name,
      version: sdk!.version,
      supportsImdsV2: sdk!.supportsImdsV2,
      minimumForImdsV2: sdk!.minimumForImdsV2,
      judgedBy: sdk!.judgedBy === null ? null : `${sdk!.judgedBy.name} ${sdk!.judgedBy.version}`,
      assumed: sdk!.assumed,
    }).toEqual({ name, version, supportsImdsV2: supports, minimumForImdsV2: minimum, judgedBy, assumed: false });
    // An upgrade target is named exactly when the version is too old.
    expect(sdk!.upgradeTo === null).toBe(supports);
  });

  it("judges AWS Tools for PowerShell by its own version, not the .NET SDK it bundles (format not seen live)", () => {
    expect(parseSdkFromUserAgent("AWSPowerShell/4.0.0.0 aws-sdk-dotnet-45/3.3.600.0")).toMatchObject({
      name: "aws-tools-powershell",
      version: "4.0.0.0",
      supportsImdsV2: false,
      minimumForImdsV2: "4.0.1.0",
    });
    expect(parseSdkFromUserAgent("AWSPowerShell.NetCore/4.1.200.0 aws-sdk-dotnet-coreclr/3.7.0.0")?.supportsImdsV2).toBe(true);
  });

  it("names the version to upgrade to", () => {
    expect(parseSdkFromUserAgent("Botocore/1.12.0 Python/2.7.5 Linux/3.10.0")?.upgradeTo).toBe("botocore 1.13.25 or later");
    expect(parseSdkFromUserAgent("aws-cli/1.16.0 Python/2.7.5 Linux/3.10.0 botocore/1.12.0")?.upgradeTo).toBe(
      "AWS CLI 1.16.289 (botocore 1.13.25) or later",
    );
    expect(parseSdkFromUserAgent("aws-sdk-java/2.10.0 Linux/4.14")?.upgradeTo).toBe("AWS SDK for Java 2.x 2.10.21 or later");
    expect(parseSdkFromUserAgent("aws-sdk-ruby3/3.70.0 ruby/2.7 x86_64-linux")?.upgradeTo).toBe("AWS SDK for Ruby v3 (aws-sdk-core 3.79.0 or later)");
  });

  it.each([
    ["curl/7.88.1", "curl", "7.88.1"],
    ["Wget/1.21.3", "wget", "1.21.3"],
    ["Python-urllib/3.11", "python-urllib", "3.11"],
    ["python-requests/2.31.0", "python-requests", "2.31.0"],
    ["Go-http-client/1.1", "go-http-client", "1.1"],
    ["Java/1.8.0_292", "java-http", "1.8.0_292"],
    ["Mozilla/5.0 (Windows NT; Windows NT 10.0; en-US) WindowsPowerShell/5.1.17763.1852", "powershell-web-cmdlets", "5.1.17763.1852"],
  ] as const)("%s is a tool that sends no token by itself", (userAgent, name, version) => {
    expect(parseSdkFromUserAgent(userAgent)).toMatchObject({ name, version, kind: "http-tool", supportsImdsV2: false, minimumForImdsV2: null });
  });

  it("takes python-urllib3 (botocore's fetcher used directly) as an unknown client", () => {
    expect(parseSdkFromUserAgent("python-urllib3/2.7.0")).toMatchObject({
      name: "python-urllib3",
      version: "2.7.0",
      kind: "http-library",
      supportsImdsV2: null,
    });
  });

  it("assumes the AWS SDK for JavaScript v3 when there is no User-Agent", () => {
    expect(parseSdkFromUserAgent(null)).toMatchObject({ name: "aws-sdk-js-v3", version: null, supportsImdsV2: true, assumed: true });
  });

  it("does not recognise other User-Agents", () => {
    for (const userAgent of ["keepalive-test/1.0", "", "Mozilla/5.0 (X11; Linux x86_64)", "aws-sdk-gopher/1.0", "my-aws-cli-wrapper"]) {
      expect(parseSdkFromUserAgent(userAgent)).toBeNull();
    }
  });

  it("does not take the curl or Java inside an SDK's User-Agent for the tool", () => {
    expect(parseSdkFromUserAgent("aws-sdk-php/3.100.0 GuzzleHttp/6 curl/7.58.0 PHP/7.2.24")?.name).toBe("aws-sdk-php");
    expect(parseSdkFromUserAgent("aws-sdk-java/1.11.600 Linux/4.14 java/1.8.0")?.name).toBe("aws-sdk-java-v1");
  });

  it("stays fast on a hostile User-Agent", () => {
    const started = performance.now();
    expect(parseSdkFromUserAgent(`${"aws-sdk-".repeat(100_000)}x`)).toBeNull();
    expect(parseSdkFromUserAgent(`curl/${"9".repeat(1_000_000)}`)?.name).toBe("curl");
    expect(performance.now() - started).toBeLessThan(500);
  });

  it("has AWS's documented minimum versions", () => {
    expect(minimumImdsV2Versions).toEqual({
      awsCli: "1.16.289",
      botocore: "1.13.25",
      boto3: "1.12.6",
      java: "1.11.678",
      java2: "2.10.21",
      javascript: "2.722.0",
      go: "1.25.38",
      goV2: "0.19.0",
      dotnet: "3.3.634.1",
      ruby: "3.79.0",
      php: "3.147.7",
      cpp: "1.7.229",
      powershell: "4.0.1.0",
    });
  });
});
