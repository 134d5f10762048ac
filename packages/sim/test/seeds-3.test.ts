import { describe } from 'vitest';
import { seedBatch } from './batch.js';

describe('3-node seed batch', () => seedBatch(3));
