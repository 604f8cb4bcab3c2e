// A Redis adapter for oidc-provider, shared by every worker of the cluster (and by seed.mjs).
// It follows the adapter of oidc-provider's own example (example/adapters/redis.js): consumable
// models (codes, refresh tokens) in a hash with a `consumed` field, the others as JSON strings,
// and per-grant lists so that revoking a grant deletes every token of it.
import Redis from 'ioredis';

const GRANTABLE = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
]);
const CONSUMABLE = new Set(['AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest']);

export const redis = new Redis(process.env.PEER_REDIS_URL, { keyPrefix: 'oidc:', lazyConnect: false });

const grantKeyFor = (id) => `grant:${id}`;
const userCodeKeyFor = (userCode) => `userCode:${userCode}`;
const uidKeyFor = (uid) => `uid:${uid}`;

export class RedisAdapter {
  constructor(name) {
    this.name = name;
  }

  key(id) {
    return `${this.name}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    const multi = redis.multi();
    if (CONSUMABLE.has(this.name)) {
      multi.hset(key, { payload: JSON.stringify(payload) });
    } else {
      multi.set(key, JSON.stringify(payload));
    }
    if (expiresIn) {
      multi.expire(key, expiresIn);
    }
    if (GRANTABLE.has(this.name) && payload.grantId) {
      const grantKey = grantKeyFor(payload.grantId);
      multi.rpush(grantKey, key);
      // if you're seeing grant key lists growing out of acceptable proportions consider using LTRIM
      const ttl = await redis.ttl(grantKey);
      if (expiresIn > ttl) {
        multi.expire(grantKey, expiresIn);
      }
    }
    if (payload.userCode) {
      multi.set(userCodeKeyFor(payload.userCode), id, 'EX', expiresIn);
    }
    if (payload.uid) {
      multi.set(uidKeyFor(payload.uid), id, 'EX', expiresIn);
    }
    await multi.exec();
  }

  async find(id) {
    const data = CONSUMABLE.has(this.name) ? await redis.hgetall(this.key(id)) : await redis.get(this.key(id));
    if (!data || (typeof data === 'object' && Object.keys(data).length === 0)) {
      return undefined;
    }
    if (typeof data === 'string') {
      return JSON.parse(data);
    }
    const { payload, ...rest } = data;
    return { ...rest, ...JSON.parse(payload) };
  }

  async findByUid(uid) {
    const id = await redis.get(uidKeyFor(uid));
    return this.find(id);
  }

  async findByUserCode(userCode) {
    const id = await redis.get(userCodeKeyFor(userCode));
    return this.find(id);
  }

  async destroy(id) {
    await redis.del(this.key(id));
  }

  async revokeByGrantId(grantId) {
    const multi = redis.multi();
    const tokens = await redis.lrange(grantKeyFor(grantId), 0, -1);
    for (const token of tokens) {
      multi.del(token);
    }
    multi.del(grantKeyFor(grantId));
    await multi.exec();
  }

  async consume(id) {
    await redis.hset(this.key(id), 'consumed', Math.floor(Date.now() / 1000));
  }
}
