/** @type {import('next').NextConfig} */
const nextConfig = {
  reactStrictMode: true,
  poweredByHeader: false,
  // The demo store and the Redis client are server-only Node code.
  serverExternalPackages: ["redis"],
};

export default nextConfig;
