import { describe, expect, it } from "vitest";
import { maxCmdlineChars, redactArgv, redactedText, truncatedMarker } from "../../src/attribution/redact.js";

const R = redactedText;
// Shaped like real secrets (random base64 / hex), made for this test.
const imdsToken = "AQAEAH4qGq9Y0ZjUeRb7kL2mXnV8sTw3cP1dQfA6oHi5uJ9eKx4yBzN2gC7tM0rWvE==";
const secretAccessKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY";
const sessionToken = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD7x9Kp2mQz";
const hexSecret = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
// As test/fake-imds/fake-imds.mjs issues them: "AQAEA" + 39 random bytes in base64url + "==".
const fakeImdsToken = "AQAEA2MUQAAlN0IXVoS25EytGhPE1jTJ7QWkk3zDms5FePQz9NdSowUzq==";
const fakeImdsTokenWithUnderscores = "AQAEAEP_xzVZTcM_Z26q6_WRraDSgbgbyBGAtyYn_rg9URPmVs3JkKHwt==";
const fakeSecretAccessKey = "FAKESECRETq8Zr3LmX0aT7bV2nC9yK4wE1pD6sG5hJ";

describe("redactArgv: secrets go", () => {
  it.each<[string, string[], string[]]>([
    ["--password X", ["mysql", "--password", "hunter2", "-h", "db"], ["mysql", "--password", R, "-h", "db"]],
    ["--password=X", ["mysql", "--password=hunter2"], ["mysql", `--password=${R}`]],
    ["--token", ["vault", "login", "--token", "s.abc"], ["vault", "login", "--token", R]],
    ["single-dash long option", ["app", "-token", "abc", "-password=xyz"], ["app", "-token", R, `-password=${R}`]],
    ["--secret*", ["tool", "--secret-id", "abc", "--secret=def"], ["tool", "--secret-id", R, `--secret=${R}`]],
    ["--api-key", ["tool", "--api-key", "k1", "--API_KEY=k2"], ["tool", "--api-key", R, `--API_KEY=${R}`]],
    ["--access-key*", ["tool", "--access-key-id", "AKIAEXAMPLE", "--access-key=ak"], ["tool", "--access-key-id", R, `--access-key=${R}`]],
    ["--session-token", ["tool", "--session-token", sessionToken], ["tool", "--session-token", R]],
    ["--*-password / --*-token / --*-secret", ["t", "--db-password", "p", "--github-token=g", "--client-secret", "c"], ["t", "--db-password", R, `--github-token=${R}`, "--client-secret", R]],
    [
      "curl -H with the IMDS token",
      ["curl", "-s", "-H", `X-aws-ec2-metadata-token: ${imdsToken}`, "http://169.254.169.254/latest/meta-data/"],
      ["curl", "-s", "-H", `X-aws-ec2-metadata-token: ${R}`, "http://169.254.169.254/latest/meta-data/"],
    ],
    [
      "ec2-metadata writes the header with no space after the colon",
      ["curl", "-s", "-f", "-H", `X-aws-ec2-metadata-token:${imdsToken}`, "http://169.254.169.254/latest/meta-data/instance-id"],
      ["curl", "-s", "-f", "-H", `X-aws-ec2-metadata-token:${R}`, "http://169.254.169.254/latest/meta-data/instance-id"],
    ],
    ["Authorization header", ["curl", "-HAuthorization: Bearer abc.def", "https://api"], ["curl", `-HAuthorization: ${R}`, "https://api"]],
    ["wget --header=", ["wget", `--header=X-aws-ec2-metadata-token: ${imdsToken}`], ["wget", `--header=X-aws-ec2-metadata-token: ${R}`]],
    ["env AWS_SECRET_ACCESS_KEY=", ["env", `AWS_SECRET_ACCESS_KEY=${secretAccessKey}`, "aws", "s3", "ls"], ["env", `AWS_SECRET_ACCESS_KEY=${R}`, "aws", "s3", "ls"]],
    ["env AWS_SESSION_TOKEN=", ["env", `AWS_SESSION_TOKEN=${sessionToken}`], ["env", `AWS_SESSION_TOKEN=${R}`]],
    ["*_PASSWORD=, *_TOKEN=, *_SECRET=", ["env", "DB_PASSWORD=p", "GH_TOKEN=t", "APP_SECRET=s"], ["env", `DB_PASSWORD=${R}`, `GH_TOKEN=${R}`, `APP_SECRET=${R}`]],
    ["docker -e and --env=", ["docker", "run", "-e", "API_TOKEN=t", "--env=MY_PASSWORD=p", "img"], ["docker", "run", "-e", `API_TOKEN=${R}`, `--env=MY_PASSWORD=${R}`, "img"]],
    ["URL credentials", ["git", "clone", "https://user:s3cret@git.example.com/r.git"], ["git", "clone", `https://user:${R}@git.example.com/r.git`]],
    ["URL token as user:password", ["pip", "install", "-i", "https://__token__:pypi-abc@pypi.example/simple", "x"], ["pip", "install", "-i", `https://__token__:${R}@pypi.example/simple`, "x"]],
    ["query parameter", ["curl", "https://bucket.s3.amazonaws.com/k?X-Amz-Security-Token=abc%2Fdef&X-Amz-Expires=60"], ["curl", `https://bucket.s3.amazonaws.com/k?X-Amz-Security-Token=${R}&X-Amz-Expires=60`]],
    ["curl -u user:password", ["curl", "-u", "admin:pw", "http://x"], ["curl", "-u", `admin:${R}`, "http://x"]],
    ["curl -uuser:password", ["/usr/bin/curl", "-uadmin:pw", "http://x"], ["/usr/bin/curl", `-uadmin:${R}`, "http://x"]],
    ["positional secret access key (aws configure set)", ["aws", "configure", "set", "aws_secret_access_key", secretAccessKey], ["aws", "configure", "set", "aws_secret_access_key", R]],
    ["bare base64 token", ["app", imdsToken], ["app", R]],
    ["hex key", ["app", "--key-file", "/k", hexSecret], ["app", "--key-file", "/k", R]],
    [
      "inside sh -c: header, env assignment and option",
      ["/bin/sh", "-c", `TOKEN=${imdsToken} curl -H "X-aws-ec2-metadata-token: $TOKEN" http://169.254.169.254/ --password hunter2 && AWS_SESSION_TOKEN='a b' aws sts get-caller-identity`],
      ["/bin/sh", "-c", `TOKEN=${R} curl -H "X-aws-ec2-metadata-token: ${R}" http://169.254.169.254/ --password ${R} && AWS_SESSION_TOKEN=${R} aws sts get-caller-identity`],
    ],
    ["the value of a secret option is redacted even if it looks like an option", ["t", "--password", "--weird"], ["t", "--password", R]],
    // Issue 6's cases, in the shapes the fake IMDS and real clients produce.
    ["--token=X", ["app", `--token=${imdsToken}`], ["app", `--token=${R}`]],
    ["curl --header as its own argument", ["curl", "--header", `X-aws-ec2-metadata-token: ${fakeImdsToken}`, "http://169.254.169.254/latest/user-data"], ["curl", "--header", `X-aws-ec2-metadata-token: ${R}`, "http://169.254.169.254/latest/user-data"]],
    ["lower-case aws_secret_access_key=", ["env", `aws_secret_access_key=${secretAccessKey}`, "app"], ["env", `aws_secret_access_key=${R}`, "app"]],
    ["export AWS_SECRET_ACCESS_KEY=... inside sh -c", ["sh", "-c", `export AWS_SECRET_ACCESS_KEY=${secretAccessKey}; aws s3 ls`], ["sh", "-c", `export AWS_SECRET_ACCESS_KEY=${R}; aws s3 ls`]],
    ["a base64url token (with - and _) as a bare argument", ["app", fakeImdsToken, fakeImdsTokenWithUnderscores], ["app", R, R]],
    ["the fake IMDS's secret access key shape as a bare argument", ["app", fakeSecretAccessKey], ["app", R]],
  ])("%s", (_name, argv, expected) => {
    expect(redactArgv(argv)).toEqual(expected);
  });
});

describe("redactArgv: ordinary arguments stay intact", () => {
  it.each<[string, string[]]>([
    ["curl to IMDS", ["curl", "-s", "http://169.254.169.254/latest/meta-data/iam/security-credentials/"]],
    ["IMDS credentials path with a CamelCase role", ["curl", "http://169.254.169.254/latest/meta-data/iam/security-credentials/MyEc2InstanceRole2024"]],
    ["token PUT with its TTL header", ["curl", "-X", "PUT", "http://169.254.169.254/latest/api/token", "-H", "X-aws-ec2-metadata-token-ttl-seconds: 21600"]],
    ["IPv6 endpoint", ["curl", "http://[fd00:ec2::254]/latest/meta-data/"]],
    ["aws cli", ["/usr/bin/python3", "/usr/local/bin/aws", "s3", "ls", "--region", "us-east-1", "--token-ttl", "60"]],
    ["python module path", ["/usr/bin/python3", "/usr/lib/python3/dist-packages/awscli/customizations/ec2/decryptpassword.py"]],
    ["java classpath", ["java", "-cp", "/opt/app/lib/aws-java-sdk-core-1.12.261.jar:/opt/app/classes", "com.example.auth.InstanceProfileCredentialsRefresher2"]],
    ["pod uid (UUID)", ["kubelet", "--pod-uid", "6f4bd5f7-2c8c-4d3b-9d2b-7d3b1c1e0a11"]],
    ["nix store path (base32, lower case)", ["/nix/store/0c5kxl8dzyxkyc2ldrzl7qcjdgh4q3kl-curl-8.4.0-bin/bin/curl", "http://169.254.169.254/"]],
    ["short -p is ambiguous and kept", ["ssh", "-p", "2222", "host"]],
    ["sudo -u is not curl's -u", ["sudo", "-u", "ec2-user:wheel", "id"]],
    ["PWD and other env", ["env", "PWD=/home/ec2-user", "HOME=/root", "AWS_REGION=us-east-1", "AWS_EC2_METADATA_TOKEN_TTL=21600", "id"]],
    ["URL with a user but no password", ["git", "clone", "ssh://git@github.com/org/repo.git"]],
    ["argv[0] is never changed", [`/opt/${imdsToken}/bin/app`, "--flag"]],
    ["empty argv", []],
    ["empty arguments", ["x", "", ""]],
  ])("%s", (_name, argv) => {
    expect(redactArgv(argv)).toEqual(argv);
  });
});

describe("redactArgv: bounded length", () => {
  it("truncates at maxCmdlineChars and marks it", () => {
    const argv = ["app", ...Array.from({ length: 2000 }, (_unused, index) => `arg${index}`)];
    const result = redactArgv(argv);
    const joinedLength = result.reduce((sum, arg) => sum + arg.length + 1, 0);
    expect(result.at(-1)!.endsWith(truncatedMarker)).toBe(true);
    expect(joinedLength - truncatedMarker.length).toBeLessThanOrEqual(maxCmdlineChars);
    expect(joinedLength - truncatedMarker.length).toBeGreaterThan(maxCmdlineChars - 10);
    expect(result.slice(0, 5)).toEqual(["app", "arg0", "arg1", "arg2", "arg3"]);
  });

  it("cuts a single huge argument", () => {
    const result = redactArgv(["app", "x".repeat(10_000)]);
    expect(result).toEqual(["app", `${"x".repeat(maxCmdlineChars - 4 - 1)}${truncatedMarker}`]);
  });

  it("never reveals a secret at the cut", () => {
    const argv = ["app", "y".repeat(maxCmdlineChars - 40), imdsToken];
    const result = redactArgv(argv);
    expect(result.join(" ")).not.toContain(imdsToken.slice(0, 12));
  });

  it("is fast on hostile input (no regex backtracking blow-up)", () => {
    const started = performance.now();
    redactArgv(["app", "a".repeat(64 * 1024)]);
    redactArgv(["app", "a_".repeat(32 * 1024)]);
    redactArgv(["app", `${"-".repeat(60_000)}=x`]);
    expect(performance.now() - started).toBeLessThan(500);
  });
});
