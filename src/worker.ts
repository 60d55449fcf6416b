// `npm run worker`: the meter-polling loop alone (no HTTP); needs DATABASE_URL and SOLANA_RPC_URL.
import { main } from './main.js';

await main('worker');
