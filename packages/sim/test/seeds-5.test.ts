import { describe } from 'vitest';
import { seedBatch } from './batch.js';

describe('5-node seed batch', () => seedBatch(5));
