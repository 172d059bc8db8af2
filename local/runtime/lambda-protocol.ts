// Messages between the lambda pool (parent) and its worker threads.

export interface WorkerData {
  entry: string;
  exportName: string;
  functionName: string;
  functionArn: string;
  memorySize: number;
  logStreamName: string;
}

export type ToWorker = {
  type: 'invoke';
  id: number;
  event: unknown;
  deadline: number;
  requestId: string;
};

export interface InvocationError {
  errorType: string;
  errorMessage: string;
  stack?: string;
}

export type ToParent =
  | { type: 'started' }
  | { type: 'result'; id: number; ok: true; result: unknown }
  | { type: 'result'; id: number; ok: false; error: InvocationError };
